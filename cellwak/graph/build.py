"""From neighbour lists to an undirected weighted graph (scipy CSR)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .knn import KNN


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
    """``union``: edge if either end lists the other (weight: the larger); ``mutual``: both must."""
    if how == "union":
        S = A.maximum(A.T)
    elif how == "mutual":
        S = A.minimum(A.T)
    else:
        raise ValueError(f"unknown symmetrisation {how!r}")
    S = S.tocsr()
    S.eliminate_zeros()
    S.sort_indices()
    return S


def knn_graph(knn: KNN, *, symmetrize_how: str = "union") -> sp.csr_matrix:
    """Undirected, unweighted kNN graph (1 on every edge)."""
    return symmetrize(directed_knn_matrix(knn), symmetrize_how)
