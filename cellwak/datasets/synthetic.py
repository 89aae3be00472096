"""Synthetic data with known answers, for tests and examples.

``blobs``: Gaussian clusters with labels. ``cell_crops``: two-channel cell images whose phenotype
(shape, nucleus size and position) is known, rendered with a random rotation, polarity (which
pole the nucleus sits at) and scale: the nuisance factors ME-VAE is meant to remove. The nuisance
values are recorded in ``obs`` so a test can measure how much of them a feature keeps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def blobs(n_cells: int = 1000, n_features: int = 16, n_clusters: int = 5, *, spread: float = 1.0,
          separation: float = 6.0, seed: int = 0):
    """Isotropic Gaussian clusters; ``obs['label']`` holds the true cluster."""
    import anndata as ad

    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, separation, size=(n_clusters, n_features))
    labels = rng.integers(0, n_clusters, size=n_cells)
    X = (centers[labels] + rng.normal(0.0, spread, size=(n_cells, n_features))).astype(np.float32)
    obs = pd.DataFrame({"label": pd.Categorical(labels.astype(str), categories=[str(i) for i in range(n_clusters)])},
                       index=[f"cell{i}" for i in range(n_cells)])
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[f"f{j}" for j in range(n_features)]))
    adata.uns["cellwak"] = {"dataset": {"format": "synthetic", "source": "cellwak.datasets.synthetic.blobs",
                                        "label_key": "label", "seed": seed}}
    return adata


# (semi-major axis, semi-minor axis, nucleus radius, nucleus offset along the major axis),
# in units of the crop size; the offset makes the cell polar.
PHENOTYPES = {
    "round": (0.30, 0.28, 0.12, 0.00),
    "elongated": (0.40, 0.18, 0.10, 0.45),
    "large-nucleus": (0.34, 0.26, 0.17, 0.25),
    "small-polar": (0.24, 0.16, 0.07, 0.55),
}


def render_cell(size: int, a: float, b: float, r: float, offset: float, angle: float,
                polarity: int, scale: float) -> np.ndarray:
    """One (2, size, size) crop: channel 0 cell body, channel 1 nucleus."""
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - c
    cos, sin = np.cos(angle), np.sin(angle)
    u = x * cos + y * sin          # coordinates in the cell's own frame
    v = -x * sin + y * cos
    A, B, R = a * size * scale, b * size * scale, r * size * scale
    body_d = np.sqrt((u / A) ** 2 + (v / B) ** 2)
    body = 1.0 / (1.0 + np.exp((body_d - 1.0) * 12.0))
    membrane = np.exp(-((body_d - 1.0) * 6.0) ** 2)
    nu = u - polarity * offset * A
    nuc_d = np.sqrt(nu ** 2 + v ** 2) / max(R, 1e-6)
    nucleus = 1.0 / (1.0 + np.exp((nuc_d - 1.0) * 10.0))
    return np.stack([0.45 * body + 0.5 * membrane, nucleus * body]).astype(np.float32)


def cell_crops(n_cells: int = 600, size: int = 32, *, phenotypes=("round", "elongated", "large-nucleus"),
               rotate: bool = True, flip_polarity: bool = True, scale_range=(0.85, 1.15),
               noise: float = 0.03, seed: int = 0):
    """Synthetic two-channel crops (N, 2, size, size) with known phenotype and nuisance.

    ``obs``: ``phenotype`` (the biology), ``rotation`` (degrees, counter-clockwise),
    ``polarity`` (+1/-1: which pole holds the nucleus), ``scale``.
    """
    from ..io.images import image_anndata

    unknown = [p for p in phenotypes if p not in PHENOTYPES]
    if unknown:
        raise ValueError(f"unknown phenotypes {unknown}; choose from {sorted(PHENOTYPES)}")
    rng = np.random.default_rng(seed)
    pheno = rng.integers(0, len(phenotypes), size=n_cells)
    angles = rng.uniform(0.0, 360.0, size=n_cells) if rotate else np.zeros(n_cells)
    polarity = rng.choice([-1, 1], size=n_cells) if flip_polarity else np.ones(n_cells, dtype=int)
    scale = rng.uniform(*scale_range, size=n_cells)
    images = np.empty((n_cells, 2, size, size), dtype=np.float32)
    for i in range(n_cells):
        a, b, r, off = PHENOTYPES[phenotypes[pheno[i]]]
        images[i] = render_cell(size, a, b, r, off, np.deg2rad(angles[i]), polarity[i], scale[i])
    images += rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    np.clip(images, 0.0, 1.0, out=images)
    obs = pd.DataFrame({
        "phenotype": pd.Categorical([phenotypes[p] for p in pheno], categories=list(phenotypes)),
        "rotation": angles, "polarity": polarity, "scale": scale,
    }, index=[f"cell{i}" for i in range(n_cells)])
    adata = image_anndata(images, obs)
    adata.uns["cellwak"] = {"dataset": {"format": "synthetic", "source": "cellwak.datasets.synthetic.cell_crops",
                                        "label_key": "phenotype", "image_shape": [2, size, size], "seed": seed}}
    return adata
