"""The noise2self loss of the DEWAK kernel for many k at once, from one neighbour search.

For one embedding (the first d PCs) the neighbours of every cell are searched once at k_max,
nearest first; the kNN graph for any k <= k_max is the first k columns of that list. With
s_ir = 1 / (dist(i, j_ir) + eps) the affinity of cell i to its r-th neighbour j_ir:

    column-normalised  W_ij = s_ij / (c_j(k) + eps),  c_j(k) = sum of s_lj over cells l listing
                       j among their first k neighbours
    row-normalised     W_ij = s_ij / sum_{r<k} s_ir

and the loss is L(k) = mean_{i,f} (X_if - sum_{r<k} W_{i j_ir} X_{j_ir f})^2 over cells and
features (the diagonal is zero because a cell is never its own neighbour).

How all k are evaluated without building any n x n matrix:

* c(k) for every requested k is a running sum over neighbour ranks (one ``bincount`` per rank),
  so the column sums of all k cost O(n k_max).
* Column normalisation: every c_j(k) changes with k, so each k needs its own prediction. The
  weights of a group of ks for a block of cells form a (cells x ranks x ks) tensor, ranks
  r >= k masked; one batched matrix product with the gathered neighbour features gives the
  predictions of the whole group. A group only reads the ranks its largest k needs, which skips
  most of the masked half. When the data have many features and few cells the products go
  through the cells' Gram matrix instead: |x_i - sum_r w_r x_jr|^2 = G_ii - 2 w.G_i,j +
  w^T G_jj w, which costs k_max^2 per cell and k instead of k_max m.
* Row normalisation: the prediction for k is a ratio of two cumulative sums over ranks, so all
  k together cost one pass, O(n k_max m).

Blocks of cells are independent: they run on a pool of Python threads (torch releases the GIL)
with torch's own intra-op parallelism set to one thread meanwhile. Many small torch operations
with intra-op threads slow down by an order of magnitude when other processes compete for the
cores (every operation waits at a barrier for a descheduled thread); independent blocks do not.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from ..choices import DEWAK_NORMS
from ..graph.kernels import EPS

NORMS = DEWAK_NORMS
GRAM_MAX_CELLS = 12_000   # the Gram matrix (n x n) stays below about 600 MB in float32
KS_PER_GROUP = 8
BLOCK_VALUES = 1 << 20    # cells per block: the largest per-block tensor holds about this many values


def column_sums(indices: np.ndarray, weights: np.ndarray, ks) -> np.ndarray:
    """c(k) for each k of ``ks`` (sorted ascending), shape (len(ks), n), float64."""
    n = indices.shape[0]
    ks = list(ks)
    out = np.empty((len(ks), n), dtype=np.float64)
    wanted = {k: q for q, k in enumerate(ks)}
    c = np.zeros(n, dtype=np.float64)
    for r in range(max(ks)):
        c += np.bincount(indices[:, r], weights=weights[:, r].astype(np.float64), minlength=n)
        q = wanted.get(r + 1)
        if q is not None:
            out[q] = c
    return out


def use_gram(n: int, m: int, k_max: int) -> bool:
    """The Gram route wins when features outnumber the neighbours and the n x n matrix is small."""
    return n <= GRAM_MAX_CELLS and m > 2 * k_max


@contextmanager
def torch_single_threaded():
    """Intra-op threads off (restored afterwards); yields the number there was."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def losses_all_k(X, indices: np.ndarray, weights: np.ndarray, ks, *, norm: str = "col", eps: float = EPS,
                 gram=None, block: int | None = None, dtype=None, workers: int | None = None) -> np.ndarray:
    """MSE(X, W_k X) for each k of ``ks``, where W_k is WAK of the first k neighbours.

    ``X`` (n, m) the features predicted; ``indices``/``weights`` (n, K) each cell's neighbours
    nearest first and their affinities; ``ks`` distinct, in 1..K (returned in ascending order).
    ``gram``: a torch tensor X X^T to use the Gram route (column normalisation only), or None.
    ``dtype``: torch dtype of the arithmetic (float64 by default; sums are float64 either way).
    """
    import torch

    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    ks = np.asarray(sorted(set(int(k) for k in ks)), dtype=np.int64)
    n, m = X.shape
    k_top = int(ks[-1])
    if ks[0] < 1 or k_top > indices.shape[1]:
        raise ValueError(f"ks must lie in 1..{indices.shape[1]}, got {ks[0]}..{k_top}")
    dtype = dtype or torch.float64
    Xt = torch.as_tensor(np.asarray(X), dtype=dtype)
    indices = np.ascontiguousarray(indices[:, :k_top], dtype=np.int64)
    # Affinities are float32, as the reference (and directed_knn_matrix) stores them.
    weights = np.ascontiguousarray(weights[:, :k_top], dtype=np.float32)
    idx = torch.as_tensor(indices)
    s = torch.as_tensor(weights).to(dtype)
    if norm == "row":
        job = _RowJob(Xt, idx, s, ks)
        per_cell = k_top * m
    else:
        inv = 1.0 / (column_sums(indices, weights, ks) + eps)             # (nq, n)
        if gram is not None:
            job = _ColGramJob(Xt, gram.to(dtype), idx, s, ks, inv)
            per_cell = k_top * k_top
        else:
            job = _ColJob(Xt, idx, s, ks, inv)
            per_cell = k_top * m
    block = block or int(max(8, min(4096, BLOCK_VALUES // max(per_cell, 1))))
    spans = [(b0, min(n, b0 + block)) for b0 in range(0, n, block)]
    with torch.inference_mode(), torch_single_threaded() as threads:
        pool_size = min(workers or threads, len(spans))
        if pool_size > 1:
            with ThreadPoolExecutor(pool_size) as pool:
                parts = list(pool.map(job, spans))
        else:
            parts = [job(span) for span in spans]
    return (torch.stack(parts).sum(0) / (n * m)).numpy()


def _groups(ks: np.ndarray):
    """(first, stop, ranks needed) for groups of consecutive requested ks."""
    out = []
    for q0 in range(0, len(ks), KS_PER_GROUP):
        q1 = min(q0 + KS_PER_GROUP, len(ks))
        out.append((q0, q1, int(ks[q1 - 1])))
    return out


class _ColJob:
    """Squared error of the column-normalised prediction, per k, for one block of cells."""

    def __init__(self, X, idx, s, ks, inv):
        import torch

        self.X, self.idx, self.s, self.nq = X, idx, s, len(ks)
        self.groups = _groups(ks)
        ks_t = torch.as_tensor(ks)
        # 1 / c_j(k) per group as (n, g): a gather by neighbour reads g contiguous values.
        self.inv = [torch.as_tensor(np.ascontiguousarray(inv[q0:q1].T)).to(X.dtype) for q0, q1, _ in self.groups]
        self.masks = [(torch.arange(kc)[:, None] < ks_t[None, q0:q1]).to(X.dtype) for q0, q1, kc in self.groups]

    def weights(self, gi, idx_b, s_b):
        """(B, g, kc) kernel weights of one group (ranks beyond each k masked)."""
        kc = self.groups[gi][2]
        w = self.inv[gi][idx_b[:, :kc]]                                  # (B, kc, g)
        w.mul_(s_b[:, :kc, None]).mul_(self.masks[gi])
        return w.transpose(1, 2)

    def __call__(self, span):
        import torch

        b0, b1 = span
        idx_b, s_b, x_b = self.idx[b0:b1], self.s[b0:b1], self.X[b0:b1]
        neigh = self.X[idx_b]                                             # (B, K, m)
        out = torch.zeros(self.nq, dtype=torch.float64)
        for gi, (q0, q1, kc) in enumerate(self.groups):
            pred = torch.bmm(self.weights(gi, idx_b, s_b), neigh[:, :kc])  # (B, g, m)
            pred.sub_(x_b[:, None, :])
            out[q0:q1] = pred.square_().sum(dim=(0, 2)).to(torch.float64)
        return out


class _ColGramJob(_ColJob):
    def __init__(self, X, G, idx, s, ks, inv):
        super().__init__(X, idx, s, ks, inv)
        self.G = G

    def __call__(self, span):
        import torch

        b0, b1 = span
        idx_b, s_b = self.idx[b0:b1], self.s[b0:b1]
        H = self.G[idx_b[:, :, None], idx_b[:, None, :]]                 # (B, K, K)
        g = self.G[b0:b1].gather(1, idx_b)                                # (B, K)
        xx = torch.diagonal(self.G[b0:b1, b0:b1])
        out = torch.zeros(self.nq, dtype=torch.float64)
        for gi, (q0, q1, kc) in enumerate(self.groups):
            w = self.weights(gi, idx_b, s_b)                               # (B, g, kc)
            quad = (torch.bmm(w, H[:, :kc, :kc]) * w).sum(-1)
            lin = (w * g[:, None, :kc]).sum(-1)
            out[q0:q1] = (xx[:, None] - 2 * lin + quad).sum(0).to(torch.float64)
        return out


class _RowJob:
    """Squared error of the row-normalised prediction (ratio of cumulative sums), per k."""

    def __init__(self, X, idx, s, ks):
        import torch

        self.X, self.idx, self.s = X, idx, s
        self.pos = torch.as_tensor(ks - 1)

    def __call__(self, span):
        import torch

        b0, b1 = span
        s_b = self.s[b0:b1]
        num = self.X[self.idx[b0:b1]]
        num.mul_(s_b[:, :, None])
        num = torch.cumsum(num, dim=1)[:, self.pos]                     # (B, nq, m)
        den = torch.cumsum(s_b, dim=1)[:, self.pos]
        num.div_(den[:, :, None]).sub_(self.X[b0:b1, None, :])
        return num.square_().sum(dim=(0, 2)).to(torch.float64)


def gram_matrix(X, dtype=None):
    """X X^T as a torch tensor (for :func:`losses_all_k`'s Gram route)."""
    import torch

    Xt = torch.as_tensor(np.asarray(X), dtype=dtype or torch.float64)
    return Xt @ Xt.T


def mean_predictor_loss(X) -> float:
    """MSE of predicting every cell by the mean cell: the baseline a denoiser must beat."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.mean((X - X.mean(axis=0)) ** 2))
