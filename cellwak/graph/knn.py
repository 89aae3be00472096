"""k-nearest-neighbour search.

Exact search: blocked matrix products with top-k in torch (CPU or CUDA). Memory is bounded by
the block (``block_rows`` x n distances); an n x n matrix never exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..progress import NULL


@dataclass
class KNN:
    """Neighbours of every cell, nearest first, self excluded."""

    indices: np.ndarray    # (n, k) int64
    distances: np.ndarray  # (n, k) float32, Euclidean

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    def prefix(self, k: int) -> "KNN":
        """The k nearest of a larger search: neighbours for every smaller k come for free."""
        return KNN(self.indices[:, :k], self.distances[:, :k])


def default_block_rows(n: int, budget_bytes: int = 256 << 20) -> int:
    return int(max(1, min(n, budget_bytes // (8 * max(n, 1)))))


def exact_knn(X, k: int, *, device: str = "cpu", block_rows: int | None = None, progress=NULL) -> KNN:
    """Exact Euclidean kNN of the rows of ``X`` (self excluded)."""
    import torch

    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n-1], got k={k} for n={n}")
    data = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)
    sq = (data * data).sum(dim=1)
    rows = block_rows or default_block_rows(n)
    indices = np.empty((n, k), dtype=np.int64)
    with torch.inference_mode(), progress.task("kNN search (exact)", total=n) as task:
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            q = data[start:stop]
            d2 = torch.addmm(sq[None, :], q, data.T, beta=1.0, alpha=-2.0)
            d2 += sq[start:stop, None]
            d2[torch.arange(stop - start, device=d2.device), torch.arange(start, stop, device=d2.device)] = float("inf")
            _, idx = torch.topk(d2, k, dim=1, largest=False, sorted=True)
            indices[start:stop] = idx.cpu().numpy()
            del d2
            task.advance(stop - start)
    return KNN(indices, neighbour_distances(X, indices))


def neighbour_distances(X, indices: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Euclidean distance of each cell to its listed neighbours, computed directly (the Gram
    trick used for ranking loses precision for near neighbours)."""
    X = np.asarray(X, dtype=np.float32)
    out = np.empty(indices.shape, dtype=np.float32)
    for start in range(0, X.shape[0], chunk):
        stop = min(X.shape[0], start + chunk)
        diff = X[indices[start:stop]] - X[start:stop, None, :]
        out[start:stop] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return out
