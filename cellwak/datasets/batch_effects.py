"""Simulated batch effects: one image dataset -> several batches with known, documented shifts.

Real screens image their plates on different days, microscopes and stain lots; features that
are meant to ignore that must be tested on data where the batch effect is known. This module
takes a single-batch image set (N, C, H, W) and splits it into ``n_batches`` batches, each
with its own acquisition-like distortion. Everything is drawn from
``numpy.random.default_rng(seed)``, so the same input, seed and settings give the same output.

Intensity scale
    Pixels are first mapped to [0, 1] by dividing by the full range: 255 for uint8, the
    largest value present in the data for other integer types (uint16 microscopy images rarely
    use the whole 16 bits), 1 for float data (which must already lie in [0, 1]).

Per-batch distortion, with ``s = strength`` (``s = 0`` leaves the images unchanged), applied
in this order:

1. gamma, per channel: ``x ** g_c`` with ``g_c = exp(u)``, ``u ~ U(-0.35 s, 0.35 s)``
   (stain/camera response curve);
2. gain, per channel: ``x * a_c``, ``a_c ~ U(1 - 0.3 s, 1 + 0.3 s)`` (illumination, exposure,
   stain concentration);
3. offset, per channel: ``x + b_c``, ``b_c ~ U(-0.1 s, 0.1 s)`` in units of the full range
   (background, camera dark level);
4. blur: a Gaussian filter over height and width only, sigma chosen uniformly from
   ``{0, 0.5 s, 1.0 s}`` pixels (focus);
5. noise: additive Gaussian noise, standard deviation ``0.02 s`` for every batch, drawn
   independently per pixel (camera noise);
6. clip to [0, 1] and map back to the input dtype (integers rounded to the nearest value).

Batch assignment (``composition``)
    ``"uniform"``: cells are dealt to the batches in random order, so batch sizes differ by at
    most one and every batch has the same expected mix of cell types.
    ``"dirichlet"`` (needs ``labels``): for each class, a distribution over the batches is
    drawn from Dirichlet(alpha = 2, ..., 2) and each cell of that class goes to a batch drawn
    from it. Each batch thus gets its own cell-type mixture, and batch and cell type are partly
    confounded, as in real screens where plates hold different treatments. Cells without a
    label form one class of their own. A batch left empty receives a random cell of the largest
    batch.

Random draws, in order: the shift parameters of batch 0, 1, ... (gain, offset and gamma
uniforms per channel, then the blur choice; drawn at unit scale and multiplied by ``s``, so
the same seed gives the same directions of shift at every strength), then the batch
assignment, then the noise of batch 0, 1, ... (in blocks of cells in index order).

:func:`simulate_batches` returns the shifted images, the batch of each cell and, per batch, a
dictionary of the drawn parameters (plain floats and lists) that can be stored with the data.
"""

from __future__ import annotations

import numpy as np

from ..choices import COMPOSITIONS

GAIN = 0.3  # gain a_c ~ U(1 - GAIN s, 1 + GAIN s)
OFFSET = 0.1  # offset b_c ~ U(-OFFSET s, OFFSET s), in units of the full range
LOG_GAMMA = 0.35  # gamma g_c = exp(U(-LOG_GAMMA s, LOG_GAMMA s))
BLUR_SIGMAS = (0.0, 0.5, 1.0)  # blur sigma (pixels) = s * one of these
NOISE_SD = 0.02  # noise standard deviation = NOISE_SD s, in units of the full range
DIRICHLET_ALPHA = 2.0

_BLOCK_CELLS = 2048  # cells transformed at a time (bounds the float32 working copy)


def value_range(images: np.ndarray) -> float:
    """The value that maps to 1.0: 255 for uint8, the data's maximum for other integer
    types, 1 for floats (which must lie in [0, 1]); ValueError for anything else."""
    if images.dtype == np.uint8:
        return 255.0
    if images.dtype.kind in "ui":
        if images.size and images.min() < 0:
            raise ValueError("integer images with negative values cannot be mapped to [0, 1]")
        return float(max(int(images.max()) if images.size else 1, 1))
    if images.dtype.kind == "f":
        lo, hi = float(np.min(images)), float(np.max(images))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("float images hold NaN or infinite values")
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(f"float images must lie in [0, 1] (found values from {lo:.4g} to {hi:.4g}); "
                             "rescale them first or store them as integers")
        return 1.0
    raise ValueError(f"images have dtype {images.dtype}; use unsigned integers or floats in [0, 1]")


def draw_params(rng: np.random.Generator, n_batches: int, n_channels: int, strength: float) -> list[dict]:
    """The per-batch shift parameters (see the module documentation for the distributions)."""
    params = []
    for b in range(n_batches):
        gain = 1.0 + GAIN * strength * rng.uniform(-1.0, 1.0, n_channels)
        offset = OFFSET * strength * rng.uniform(-1.0, 1.0, n_channels)
        gamma = np.exp(LOG_GAMMA * strength * rng.uniform(-1.0, 1.0, n_channels))
        sigma = strength * BLUR_SIGMAS[int(rng.integers(0, len(BLUR_SIGMAS)))]
        params.append({"batch": f"b{b}", "gain": [float(v) for v in gain], "offset": [float(v) for v in offset],
                       "gamma": [float(v) for v in gamma], "blur_sigma": float(sigma),
                       "noise_sd": float(NOISE_SD * strength)})
    return params


def assign_batches(rng: np.random.Generator, n: int, n_batches: int, composition: str, labels=None) -> np.ndarray:
    """Batch index 0..n_batches-1 of each cell; every batch gets at least one cell."""
    if composition == "uniform":
        return rng.permutation(np.arange(n) % n_batches).astype(np.int64)
    import pandas as pd

    classes, _ = pd.factorize(np.asarray(labels, dtype=object), use_na_sentinel=False)
    batch = np.empty(n, dtype=np.int64)
    for c in range(int(classes.max()) + 1):
        members = np.flatnonzero(classes == c)
        mixture = rng.dirichlet(np.full(n_batches, DIRICHLET_ALPHA))
        batch[members] = rng.choice(n_batches, size=members.size, p=mixture)
    for b in range(n_batches):
        if not (batch == b).any():
            sizes = np.bincount(batch, minlength=n_batches)
            donor = int(np.argmax(sizes))  # holds >= 2 cells while n >= n_batches
            batch[rng.choice(np.flatnonzero(batch == donor))] = b
    return batch


def _shift(block: np.ndarray, p: dict, scale: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    x = block.astype(np.float32) / np.float32(scale)
    per_channel = (1, -1, 1, 1)
    x **= np.asarray(p["gamma"], dtype=np.float32).reshape(per_channel)
    x *= np.asarray(p["gain"], dtype=np.float32).reshape(per_channel)
    x += np.asarray(p["offset"], dtype=np.float32).reshape(per_channel)
    if p["blur_sigma"] > 0:
        x = gaussian_filter(x, sigma=(0.0, 0.0, p["blur_sigma"], p["blur_sigma"]))
    if p["noise_sd"] > 0:
        x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(p["noise_sd"])
    np.clip(x, 0.0, 1.0, out=x)
    if block.dtype.kind in "ui":
        return np.rint(x * np.float32(scale)).astype(block.dtype)
    return x.astype(block.dtype)


def simulate_batches(images, n_batches: int = 4, *, labels=None, seed: int = 0, strength: float = 1.0,
                     composition: str = "dirichlet") -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Split ``images`` (N, C, H, W) into ``n_batches`` batches, each with its own intensity,
    blur and noise shift (see the module documentation).

    Returns ``(shifted, batch, params)``: the shifted images (same shape and dtype), the batch
    index of each cell (int, 0..n_batches-1) and one dictionary per batch with its drawn
    parameters (``batch`` name ``b<i>``, ``cells``, per-channel ``gain``, ``offset``,
    ``gamma``, and ``blur_sigma``, ``noise_sd``).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {images.shape}")
    n = images.shape[0]
    if isinstance(n_batches, bool) or int(n_batches) != n_batches or n_batches < 2:
        raise ValueError(f"n_batches must be an integer of at least 2, got {n_batches}")
    n_batches = int(n_batches)
    if n < n_batches:
        raise ValueError(f"{n} cells cannot fill {n_batches} batches")
    strength = float(strength)
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be a number >= 0, got {strength}")
    if composition not in COMPOSITIONS:
        raise ValueError(f"composition must be one of {', '.join(COMPOSITIONS)}, got {composition!r}")
    if composition == "dirichlet" and labels is None:
        raise ValueError("composition 'dirichlet' needs the labels of the cells; pass labels or use 'uniform'")
    if labels is not None:
        labels = np.asarray(labels, dtype=object)
        if labels.shape != (n,):
            raise ValueError(f"labels has shape {labels.shape} but there are {n} images")
    scale = value_range(images)

    rng = np.random.default_rng(seed)
    params = draw_params(rng, n_batches, images.shape[1], strength)
    batch = assign_batches(rng, n, n_batches, composition, labels)
    shifted = np.empty_like(images)
    for b, p in enumerate(params):
        members = np.flatnonzero(batch == b)
        p["cells"] = int(members.size)
        for start in range(0, members.size, _BLOCK_CELLS):
            rows = members[start:start + _BLOCK_CELLS]
            shifted[rows] = _shift(images[rows], p, scale, rng)
    return shifted, batch, params




def simulated_dataset(adata, source: str, n_batches: int = 4, *, seed: int = 0, strength: float = 1.0,
                      composition: str = "dirichlet"):
    """A copy of the image dataset ``adata`` (named ``source``) split into simulated batches:
    shifted ``obsm['images']`` (and X when X holds the flattened pixels), ``obs['batch']`` =
    b0..b<n-1> as the dataset's batch column, the drawn shifts in ``uns['cellwak']['batch_effects']``.
    Returns ``(new AnnData, per-batch params)``; ValueError for data it cannot shift."""
    import pandas as pd

    from ..io import labelled_mask
    from ..io.images import image_anndata

    if "images" not in adata.obsm:
        raise ValueError("the dataset is a table of features, not images")
    info = dict(adata.uns.get("cellwak", {}).get("dataset", {}))
    if info.get("label_key") == "batch":
        raise ValueError("its labels are in obs['batch'], where the simulated batches go; rename the label column")
    labels = None
    if composition == "dirichlet":
        values, mask = labelled_mask(adata)
        if values is None:
            raise ValueError("it has no labels, which composition 'dirichlet' needs; use uniform")
        labels = np.where(mask, values, None)
    images = np.asarray(adata.obsm["images"])
    scale = value_range(images)
    shifted, batch, params = simulate_batches(images, n_batches, labels=labels, seed=seed, strength=strength,
                                              composition=composition)
    n = adata.n_obs
    obs = adata.obs.drop(columns=[c for c in adata.obs.columns if str(c).startswith("cellwak_") or c == "batch"])
    pixels = image_anndata(shifted, obs.copy())
    X = adata.X
    x_is_pixels = X is not None and getattr(X, "shape", None) == (n, int(np.prod(images.shape[1:]))) \
        and list(adata.var_names) == list(pixels.var_names)
    if x_is_pixels:
        new = pixels
    else:  # X holds other features: kept as they are; only the images carry the batch effect
        import anndata as ad

        new = ad.AnnData(X=X, obs=obs.copy(), var=adata.var.copy())
        new.obsm["images"] = shifted
    new.obs["batch"] = pd.Categorical.from_codes(batch, categories=[p["batch"] for p in params])
    info.update({"format": "simulated", "batch_key": "batch",
                 "source": f"batch effects simulated on dataset '{source}' (seed {seed}, strength {strength:g}, "
                           f"{composition} composition)"})
    for stale in ("summary", "description"):  # computed on add / describes the source
        info.pop(stale, None)
    record = {"source_dataset": source, "seed": int(seed), "strength": float(strength), "composition": composition,
              "n_batches": int(n_batches), "value_range": scale,
              "order": "scale to [0,1], gamma, gain, offset, blur, noise, clip, back to dtype",
              "batches": {p["batch"]: {k: v for k, v in p.items() if k != "batch"} for p in params}}
    new.uns["cellwak"] = {"dataset": info, "batch_effects": record}
    return new, params


__all__ = ["COMPOSITIONS", "assign_batches", "draw_params", "simulate_batches", "simulated_dataset", "value_range"]
