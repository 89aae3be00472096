"""Exact kNN with a k-d tree (scipy's ``cKDTree``), for data of low intrinsic dimension.

Cytometry has 8-50 channels and its cells lie on a few low-dimensional populations: there a k-d
tree answers each query by visiting a handful of leaves, the search is exact, and building the
tree takes about a second per million cells, where an HNSW index spends most of its time
building. In 30+ truly independent dimensions a tree degenerates towards a scan; whether it does
on given data is measured by :mod:`cellwak.graph.choose`, not assumed from the column count.
scipy is already a dependency; its tree queries run on several threads (``workers``).
"""

from __future__ import annotations

import numpy as np

from ..progress import NULL
from .exact import KNN, search_in_chunks

LEAF_SIZE = 32  # measured: 16-64 within 10% of each other on 1M x 8; 32 builds faster than 16


def build_tree(X):
    from scipy.spatial import cKDTree

    return cKDTree(np.ascontiguousarray(X, dtype=np.float32), leafsize=LEAF_SIZE, balanced_tree=False,
                   compact_nodes=False)


def kdtree_knn(X, k: int, *, tree=None, threads: int | None = None, progress=NULL, chunks: int = 20,
               queries=None) -> KNN:
    """Exact Euclidean kNN of the rows of ``X`` (self excluded, nearest first); ``tree``: one
    :func:`build_tree` already built on ``X`` (the method choice builds it to time its queries);
    ``queries``: a callable (tree, k) -> (indices, distances) answering the queries elsewhere
    (:mod:`.sharded`)."""
    import torch

    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n-1], got k={k} for n={n}")
    workers = threads or torch.get_num_threads()
    if tree is None:
        with progress.task(f"kNN index (k-d tree, {X.shape[1]} dims)", total=1) as task:
            tree = build_tree(X)
            task.advance()
    if queries is not None:
        indices, distances = queries(tree, k)
        return KNN(indices, distances, method="kdtree", recall=1.0)
    indices, distances = search_in_chunks(n, k, lambda start, stop: query_tree(tree, X, start, stop, k, workers),
                                          label=f"kNN search (k-d tree, k={k})", progress=progress, chunks=chunks)
    return KNN(indices, distances, method="kdtree", recall=1.0)


def query_tree(tree, X, start: int, stop: int, k: int, workers: int = 1):
    """The k nearest (self excluded) of the cells ``start:stop`` of ``X`` in ``tree``."""
    d, idx = tree.query(X[start:stop], k=k + 1, workers=workers)
    return drop_self(idx.astype(np.int64), d, np.arange(start, stop), k)


def drop_self(idx: np.ndarray, dist: np.ndarray, rows: np.ndarray, k: int):
    """Remove each row's own index from a (k + 1)-search (when absent because of exact
    duplicates ranked before it, the last entry instead)."""
    is_self = idx == rows[:, None]
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    return idx[keep].reshape(-1, k), dist[keep].reshape(-1, k)
