"""DINO's multi-crop views of cell crops and CDCL's cross-domain partner sampler
(shared/methods/extractors.md D.1, D.3).

Views are drawn on the GPU/CPU in one batched affine resample per view: a random resized crop
(area ``scale`` of the crop, aspect ratio in [3/4, 4/3]), a uniform random rotation (cells have
no preferred orientation; CDCL's RandomRotate90 and flips are special cases), a random
left-right flip, then per-channel intensity jitter x * a_c + b_c with a_c ~ N(1, 0.1),
b_c ~ N(0, 0.1) applied to half of the views (CDCL's transform). Pixels outside the source take
the nearest border value, so dark and bright backgrounds both stay background.

Partners (the second global view's source image):

- ``same``: the cell itself (standard DINO);
- ``condition``: a cell with the same condition (treatment) from another batch, uniformly
  (CDCL); a cell whose condition occurs in no other batch falls back to any cell with its
  condition, a cell with no condition to itself;
- ``neighbours``: label-free: one of the ``k`` nearest cells from other batches after each batch's
  pixels are standardised on their own (PCA, exact kNN) - for data with batches but no condition.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F


def random_crops(images: torch.Tensor, size: int, scale: tuple[float, float], jitter: float = 0.5) -> torch.Tensor:
    """One augmented view of every crop, resampled to ``size`` x ``size``."""
    n, c = images.shape[:2]
    dev, dt = images.device, images.dtype
    area = torch.empty(n, device=dev).uniform_(*scale)
    log_ratio = torch.empty(n, device=dev).uniform_(math.log(3 / 4), math.log(4 / 3))
    ratio = torch.exp(log_ratio)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    tx = (torch.rand(n, device=dev) * 2 - 1) * (1 - w)
    ty = (torch.rand(n, device=dev) * 2 - 1) * (1 - h)
    angle = torch.rand(n, device=dev) * 2 * math.pi
    flip = torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([w * cos * flip, -h * sin, tx], -1),
                         torch.stack([w * sin * flip, h * cos, ty], -1)], 1).to(dt)
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if jitter > 0:
        apply = (torch.rand(n, 1, 1, 1, device=dev) < jitter).to(dt)
        gain = 1 + 0.1 * torch.randn(n, c, 1, 1, device=dev, dtype=dt)
        shift = 0.1 * torch.randn(n, c, 1, 1, device=dev, dtype=dt)
        out = out * (1 + apply * (gain - 1)) + apply * shift
    return out


def multi_crop(first: torch.Tensor, second: torch.Tensor, *, local_size: int, n_local: int,
               global_scale: tuple[float, float], local_scale: tuple[float, float],
               jitter: float = 0.5) -> tuple[list, list]:
    """(global views [of first, of second], local views [n_local of first, n_local of second])."""
    size = first.shape[-1]
    globals_ = [random_crops(first, size, global_scale, jitter), random_crops(second, size, global_scale, jitter)]
    locals_ = [random_crops(src, local_size, local_scale, jitter) for src in (first, second) for _ in range(n_local)]
    return globals_, locals_


class PartnerSampler:
    """Draws each cell's partner as described in the module docstring. All tables are tensors,
    so sampling is a few vectorised operations on the device of the images."""

    def __init__(self, mode: str, batches: np.ndarray | None = None, conditions: np.ndarray | None = None,
                 neighbours: np.ndarray | None = None):
        self.mode = mode
        self.tables: dict[str, torch.Tensor] = {}
        if mode == "neighbours":
            self.tables = {"neighbours": torch.as_tensor(neighbours, dtype=torch.long)}
        elif mode == "condition":
            self.tables = _condition_tables(batches, conditions)

    def to(self, device) -> "PartnerSampler":
        self.tables = {k: v.to(device) for k, v in self.tables.items()}
        return self

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        if self.mode == "same":
            return index
        if self.mode == "neighbours":
            table = self.tables["neighbours"]
            return table[index, torch.randint(table.shape[1], (len(index),), device=index.device)]
        t = {k: v[index] for k, v in self.tables.items() if k != "order"}
        count = t["block_len"] - t["hole_len"]
        r = torch.floor(torch.rand(len(index), device=index.device) * count).long()
        pos = t["block_start"] + torch.where(r < t["hole_off"], r, r + t["hole_len"])
        return self.tables["order"][pos]


def _condition_tables(batches: np.ndarray, conditions: np.ndarray) -> dict[str, torch.Tensor]:
    """Cells sorted by (condition, batch); for each cell its condition's block in that order and,
    inside it, the range of its own batch (the hole a partner is not drawn from). Cells without
    a condition form a block of their own; when a condition has no other batch the hole is empty."""
    n = len(batches)
    batches = np.unique(np.asarray(batches).astype(str), return_inverse=True)[1]
    cond = np.asarray(conditions, dtype=object)
    missing = np.array([c is None or (isinstance(c, float) and np.isnan(c)) for c in cond])
    codes = np.empty(n, dtype=np.int64)
    _, known = np.unique(cond[~missing].astype(str), return_inverse=True) if (~missing).any() else (None, np.array([], int))
    codes[~missing] = known
    codes[missing] = known.max(initial=-1) + 1 + np.arange(missing.sum())  # each its own condition
    order = np.lexsort((batches, codes))
    sc, sb = codes[order], batches[order]
    block_start = np.zeros(n, dtype=np.int64)
    block_len = np.zeros(n, dtype=np.int64)
    hole_off = np.zeros(n, dtype=np.int64)
    hole_len = np.zeros(n, dtype=np.int64)
    bounds = np.flatnonzero(np.diff(sc)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, n]):
        members = order[start:stop]
        block_start[members], block_len[members] = start, stop - start
        inner = sb[start:stop]
        cuts = np.flatnonzero(np.diff(inner)) + 1
        spans = list(zip(np.r_[0, cuts], np.r_[cuts, len(inner)]))
        if len(spans) == 1:  # one batch only: partners from the whole condition (CDCL's fallback)
            continue
        for a, b in spans:
            cells = order[start + a:start + b]
            hole_off[cells], hole_len[cells] = a, b - a
    as_t = lambda a: torch.as_tensor(a, dtype=torch.long)  # noqa: E731
    return {"order": as_t(order), "block_start": as_t(block_start), "block_len": as_t(block_len),
            "hole_off": as_t(hole_off), "hole_len": as_t(hole_len)}


def cross_batch_neighbours(images: np.ndarray, batches: np.ndarray, k: int = 10, n_pcs: int = 50,
                           seed: int = 0) -> np.ndarray:
    """(n, k) indices of each cell's k nearest cells from other batches, after standardising every
    batch's pixels on their own and a PCA of the result (exact Euclidean search)."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(images, dtype=np.float32).reshape(len(images), -1).copy()
    batches = np.asarray(batches)
    for b in np.unique(batches):
        rows = batches == b
        X[rows] -= X[rows].mean(axis=0)
        X[rows] /= X[rows].std(axis=0) + 1e-6
    Z = PCA(n_components=min(n_pcs, X.shape[1], X.shape[0] - 1), random_state=seed).fit_transform(X)
    best = np.zeros((len(Z), k), dtype=np.int64)
    for b in np.unique(batches):
        inside = np.flatnonzero(batches == b)
        others = np.flatnonzero(batches != b)
        kk = min(k, len(others))
        i = NearestNeighbors(n_neighbors=kk).fit(Z[others]).kneighbors(Z[inside], return_distance=False)
        if kk < k:  # fewer candidates than k: repeat the nearest
            i = np.concatenate([i, np.repeat(i[:, :1], k - kk, 1)], 1)
        best[inside] = others[i]
    return best
