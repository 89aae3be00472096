"""Exact k-nearest-neighbour search and the neighbour-list record every search returns.

Blocked matrix products with top-k in torch (CPU or CUDA). Memory is bounded by the block
(``block_rows`` x n distances); an n x n matrix never exists.
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
    repaired: int = 0      # cells whose approximate lists were searched again exactly
    method: str = "exact"  # the search that produced the lists: exact, kdtree, ivf, nndescent or hnsw
    choice: dict | None = None        # why ``auto`` chose it (cellwak.graph.choose), when it did
    recall: float | None = None       # estimated recall@k of an approximate search (1.0: exact)

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    def prefix(self, k: int) -> "KNN":
        """The k nearest of a larger search: neighbours for every smaller k come for free."""
        return KNN(self.indices[:, :k], self.distances[:, :k], self.repaired, self.method, self.choice, self.recall)


def search_in_chunks(n: int, k: int, answer, *, label: str, progress=NULL, chunks: int = 20):
    """(indices, distances) of every cell, from ``answer(start, stop)`` -> the k nearest of cells
    ``start:stop``, asked in ``chunks`` contiguous pieces with progress (an index's queries here)."""
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    step = max(1, -(-n // chunks))
    with progress.task(label, total=n) as task:
        for start in range(0, n, step):
            stop = min(n, start + step)
            indices[start:stop], distances[start:stop] = answer(start, stop)
            task.advance(stop - start)
    return indices, distances


def recall(approx: KNN, exact: KNN) -> float:
    """Mean share of each cell's exact neighbours that the approximate search found (the same cells,
    in the same order, in both)."""
    k = exact.k
    hits = sum(len(np.intersect1d(a[:k], e)) for a, e in zip(approx.indices, exact.indices))
    return hits / (k * len(exact.indices))


def sample_truth(X, k: int, sample: int = 1_000, seed: int = 0, device: str = "cpu") -> tuple[np.ndarray, KNN]:
    """``sample`` random cells (sorted, drawn with ``seed``) and their exact k nearest among all cells:
    the reference an approximate search's recall is measured against."""
    n = X.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n, sample), replace=False))
    return rows, exact_knn(X, k, rows=rows, device=device)


def default_block_rows(n: int, budget_bytes: int = 256 << 20, device: str = "cpu") -> int:
    """Query rows per block: one block's distance matrix (and top-k's workspace, 8 bytes a cell)
    within ``budget_bytes``; on CUDA a quarter of the free device memory, at most 4 GiB, so that a
    million cells take ~2,000 large launches rather than ~30,000 small ones."""
    if device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        budget_bytes = max(budget_bytes, min(4 << 30, free // 4))
    return int(max(1, min(n, budget_bytes // (8 * max(n, 1)))))


def exact_knn(X, k: int, *, rows=None, device: str = "cpu", block_rows: int | None = None, progress=NULL) -> KNN:
    """Exact Euclidean kNN of the rows of ``X`` (or of the cells ``rows`` only, among all cells),
    self excluded, nearest first, ties by index.

    Candidates come from the Gram trick (|q|^2 + |x|^2 - 2 q.x) in float32, which can swap
    near-ties; a few extra candidates are re-ranked by directly computed distances, so the
    result is exact and the k nearest of a larger search equal a smaller search.
    """
    import torch

    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n-1], got k={k} for n={n}")
    queries = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    kk = min(n - 1, k + max(2, k // 4))
    data = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)
    sq = (data * data).sum(dim=1)
    step = block_rows or default_block_rows(n, device=str(data.device))
    candidates = np.empty((len(queries), kk), dtype=np.int64)
    with torch.inference_mode(), progress.task("kNN search (exact)", total=len(queries)) as task:
        for start in range(0, len(queries), step):
            q = torch.as_tensor(queries[start:start + step], device=data.device)
            d2 = torch.addmm(sq[None, :], data[q], data.T, beta=1.0, alpha=-2.0)
            d2 += sq[q, None]
            d2[torch.arange(len(q), device=d2.device), q] = float("inf")
            _, idx = torch.topk(d2, kk, dim=1, largest=False, sorted=False)
            candidates[start:start + len(q)] = idx.cpu().numpy()
            del d2
            task.advance(len(q))
    dist = neighbour_distances(X, candidates, queries)
    order = np.lexsort((candidates, dist), axis=1)[:, :k]
    return KNN(np.take_along_axis(candidates, order, 1), np.take_along_axis(dist, order, 1))


def neighbour_distances(X, indices: np.ndarray, rows=None, chunk: int = 65536) -> np.ndarray:
    """Euclidean distance of each cell (or of the cells ``rows``) to its listed neighbours,
    computed directly (the Gram trick used for ranking loses precision for near neighbours)."""
    X = np.asarray(X, dtype=np.float32)
    rows = np.arange(len(indices)) if rows is None else np.asarray(rows)
    out = np.empty(indices.shape, dtype=np.float32)
    for start in range(0, len(indices), chunk):
        stop = min(len(indices), start + chunk)
        diff = X[indices[start:stop]] - X[rows[start:stop], None, :]
        out[start:stop] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return out
