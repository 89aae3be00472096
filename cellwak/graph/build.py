"""From neighbour lists to an undirected weighted graph (scipy CSR).

Edge weights (on the kNN support):
    binary     1 on every edge
    inverse    1 / (distance + eps), the WAK affinity
    umap       UMAP's fuzzy simplicial set: exp(-(d - rho_i) / sigma_i), rho_i the distance to
               the nearest neighbour, sigma_i solving sum_j exp(...) = log2(k) (scanpy's 'umap')
    gaussian   adaptive Gaussian: sqrt(2 s_i s_j / (s_i^2 + s_j^2)) exp(-d^2 / (s_i^2 + s_j^2)),
               s_i the median distance of cell i to its neighbours
    jaccard    PhenoGraph's shared-neighbour weight |N(i) & N(j)| / |N(i) | N(j)|
Symmetrisation: ``union`` (edge if either lists the other; the larger weight), ``mutual`` (both
must; the smaller weight), ``fuzzy`` (UMAP's a + b - ab).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .kernels import EPS
from ..choices import WEIGHTS
from .exact import KNN
SYMMETRIZE = ("union", "mutual", "fuzzy")


def directed_knn_matrix(knn: KNN, values: np.ndarray | None = None) -> sp.csr_matrix:
    """Row i holds i's k neighbours (with ``values``, default 1)."""
    n, k = knn.indices.shape
    data = np.ones(n * k, dtype=np.float32) if values is None else np.asarray(values, np.float32).ravel()
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    return sp.csr_matrix((data, knn.indices.ravel(), indptr), shape=(n, n))


def distance_matrix(knn: KNN) -> sp.csr_matrix:
    """scanpy's ``obsp['distances']``: row i holds the distances to i's neighbours."""
    return directed_knn_matrix(knn, knn.distances)


def symmetrize(A: sp.csr_matrix, how: str = "union") -> sp.csr_matrix:
    if how == "union":
        S = A.maximum(A.T)
    elif how == "mutual":
        S = A.minimum(A.T)
    elif how == "fuzzy":
        At = A.T.tocsr()
        S = A + At - A.multiply(At)
    else:
        raise ValueError(f"unknown symmetrisation {how!r}; choose one of {SYMMETRIZE}")
    S = sp.csr_matrix(S)
    S.eliminate_zeros()
    S.sort_indices()
    return S


def umap_weights(distances: np.ndarray, n_iter: int = 64) -> np.ndarray:
    """Per-row fuzzy membership strengths as in UMAP's smooth_knn_dist (vectorised bisection)."""
    d = np.asarray(distances, dtype=np.float64)
    k = d.shape[1]
    rho = d[:, 0]
    target = np.log2(k)
    lo = np.zeros(len(d))
    hi = np.full(len(d), np.inf)
    sigma = np.ones(len(d))
    shifted = np.maximum(d - rho[:, None], 0.0)
    for _ in range(n_iter):
        total = np.exp(-shifted / sigma[:, None]).sum(axis=1)
        too_big = total > target
        hi = np.where(too_big, sigma, hi)
        lo = np.where(too_big, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2, (lo + hi) / 2)
    mean_d = d.mean()
    sigma = np.maximum(sigma, 1e-3 * np.where(rho > 0, d.mean(axis=1), mean_d))
    return np.exp(-shifted / sigma[:, None]).astype(np.float32)


def gaussian_weights(knn: KNN) -> sp.csr_matrix:
    d = knn.distances.astype(np.float64)
    s = np.median(d, axis=1) + EPS
    si, sj = s[:, None], s[knn.indices]
    denom = si ** 2 + sj ** 2
    w = np.sqrt(2 * si * sj / denom) * np.exp(-d ** 2 / denom)
    return directed_knn_matrix(knn, w)


def jaccard_weights(knn: KNN, chunk: int = 20000) -> np.ndarray:
    """|N(i) & N(j)| / |N(i) | N(j)| for every listed edge i -> j (N: the k neighbour lists)."""
    idx = knn.indices
    n, k = idx.shape
    out = np.empty((n, k), dtype=np.float32)
    sorted_idx = np.sort(idx, axis=1)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        offset = (np.arange(stop - start, dtype=np.int64) * n)[:, None]
        mine = (sorted_idx[start:stop] + offset).ravel()     # rows made disjoint: globally sorted
        theirs = (idx[idx[start:stop]] + offset[:, :, None]).ravel()
        pos = np.minimum(np.searchsorted(mine, theirs), mine.size - 1)
        shared = (mine[pos] == theirs).reshape(stop - start, k, k).sum(axis=2)
        out[start:stop] = shared / (2 * k - shared)
    return out


def build_graph(knn: KNN, *, weights: str = "binary", symmetrize_how: str | None = None) -> sp.csr_matrix:
    """Undirected weighted graph on the kNN support (defaults: ``fuzzy`` union for umap weights,
    ``union`` otherwise)."""
    if weights not in WEIGHTS:
        raise ValueError(f"unknown edge weights {weights!r}; choose one of {WEIGHTS}")
    how = symmetrize_how or ("fuzzy" if weights == "umap" else "union")
    if weights == "binary":
        A = directed_knn_matrix(knn)
    elif weights == "inverse":
        A = directed_knn_matrix(knn, 1.0 / (knn.distances.astype(np.float64) + EPS))
    elif weights == "umap":
        A = directed_knn_matrix(knn, umap_weights(knn.distances))
    elif weights == "gaussian":
        A = gaussian_weights(knn)
    else:
        A = directed_knn_matrix(knn, jaccard_weights(knn))
    return symmetrize(A, how)


def knn_graph(knn: KNN, *, symmetrize_how: str = "union") -> sp.csr_matrix:
    """Undirected, unweighted kNN graph (1 on every edge)."""
    return build_graph(knn, weights="binary", symmetrize_how=symmetrize_how)
