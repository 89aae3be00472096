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


FLOW_MARKERS_8 = ("CD8", "TCRyd", "CD45", "TCRb", "NK1/1", "CD4", "CD19", "CD3")  # lineage markers


def flow_resampled(n: int, dims: int = 8, seed: int = 0, jitter: float | None = None):
    """Real cytometry at any size: flowsom_bal's 19,225 events (../shared/data) drawn by a smoothed
    bootstrap: resampled with replacement to ``n`` cells, each copy moved by Gaussian noise of
    ``jitter`` standard deviations per channel (default: Silverman's reference bandwidth,
    (4 / (d + 2))^(1 / (d + 4)) m^(-1 / (d + 4)) for m events in d dims, 0.41 at 8 dims and 0.59
    at 18), i.e. a sample of the events' Gaussian kernel density. A small jitter would leave each
    event a tight clump of ~50 copies (at 1M cells) that a 15-NN graph never leaves: thousands of
    clusters. ``dims``: 8 (the lineage markers) or 18 (every channel: the 10 markers, the 6
    scatter channels, Qdot 605 and time). Columns standardised. Labels: the gated cell types,
    -1 for ungated events."""
    from datasets import load

    a = load("flowsom_bal")
    if dims == 8:
        X = np.asarray(a[:, list(FLOW_MARKERS_8)].X, dtype=np.float64)
    elif dims == 18:
        scatter = [c for c in a.obs.columns if c != "label"]
        X = np.column_stack([np.asarray(a.X, dtype=np.float64), a.obs[scatter].to_numpy(dtype=np.float64)])
    else:
        raise ValueError("flowsom_bal gives 8 or 18 dims")
    X = (X - X.mean(0)) / X.std(0)
    m, d = X.shape
    if jitter is None:
        jitter = (4 / (d + 2)) ** (1 / (d + 4)) * m ** (-1 / (d + 4))
    labels = np.asarray(a.obs["label"].astype(str))
    codes = {v: i for i, v in enumerate(sorted(set(labels) - {"Unlabeled", "nan"}))}
    y = np.array([codes.get(v, -1) for v in labels])
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(X), size=n)
    out = np.empty((n, X.shape[1]), dtype=np.float32)
    for start in range(0, n, 1 << 18):
        stop = min(n, start + (1 << 18))
        out[start:stop] = X[pick[start:stop]] + jitter * rng.normal(size=(stop - start, X.shape[1]))
    return out, y[pick]
