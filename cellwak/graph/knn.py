"""k-nearest-neighbour search: the one rule that picks exact or approximate search.

Exact search (:mod:`cellwak.graph.exact`): blocked matrix products in torch, CPU or CUDA.
Approximate search (HNSW, :mod:`cellwak.graph.approx`, with the repair of visibly failed lists,
:mod:`cellwak.graph.repair`) for large data on the CPU. ``method="auto"`` picks exact up to
``EXACT_MAX_CPU`` cells on the CPU (measured crossover for k = 15: exact 6.5 s at 50,000 cells and
24 s at 100,000 vs HNSW about 10 s) and always on CUDA. Every caller (graphs for clustering,
DEWAK's searches at k_max) uses :func:`resolve_method`, so the whole package follows one rule.
"""

from __future__ import annotations

import numpy as np

from ..choices import KNN_METHODS
from ..progress import NULL
from .approx import hnsw_knn
from .exact import KNN, exact_knn, neighbour_distances

EXACT_MAX_CPU = 50_000
METHODS = KNN_METHODS


def resolve_method(n: int, method: str = "auto", device: str = "cpu") -> str:
    if method not in METHODS:
        raise ValueError(f"unknown kNN method {method!r}; choose one of {METHODS}")
    if method != "auto":
        return method
    return "exact" if device.startswith("cuda") or n <= EXACT_MAX_CPU else "hnsw"


def neighbors(X, k: int, *, method: str = "auto", device: str = "cpu", seed: int = 0, progress=NULL, **options) -> KNN:
    """kNN of the rows of ``X`` (self excluded), exact or approximate (see module docstring)."""
    chosen = resolve_method(X.shape[0], method, device)
    if chosen == "exact":
        return exact_knn(X, k, device=device, progress=progress, **options)
    return hnsw_knn(X, k, seed=seed, progress=progress, **options)


def recall(approx: KNN, exact: KNN) -> float:
    """Mean share of each cell's exact neighbours that the approximate search found."""
    k = exact.k
    hits = sum(len(np.intersect1d(a[:k], e, assume_unique=True)) for a, e in zip(approx.indices, exact.indices))
    return hits / (k * len(exact.indices))


__all__ = ["EXACT_MAX_CPU", "KNN", "METHODS", "exact_knn", "hnsw_knn", "neighbors", "neighbour_distances",
           "recall", "resolve_method"]
