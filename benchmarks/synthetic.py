"""The synthetic Gaussian mixture of the scale benchmarks (the peers' recipe: 14 components,
Dirichlet(0.7) proportions, 32 dimensions; centres N(0, 5^2) per dimension, unit noise)."""

from __future__ import annotations

import numpy as np


def gaussian_mixture(n: int, dim: int = 32, components: int = 14, seed: int = 0):
    rng = np.random.default_rng(seed)
    proportions = rng.dirichlet(np.full(components, 0.7))
    labels = rng.choice(components, size=n, p=proportions)
    centers = rng.normal(0.0, 5.0, size=(components, dim))
    X = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 1 << 18):  # in blocks: no float64 n x dim temporary
        stop = min(n, start + (1 << 18))
        X[start:stop] = centers[labels[start:stop]] + rng.normal(size=(stop - start, dim))
    return X, labels
