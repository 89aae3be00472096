"""Neighbour lists for DEWAK: exact for small data, HNSW plus its repair step for large data.

DEWAK needs k_max + 1 results per query for every d it visits, so the HNSW settings differ
from ``cellwak.graph.approx``'s defaults for k = 15: a smaller graph (M = 16,
ef_construction = 64) and a search beam of k_max + 1. The index is built on one thread, which
makes it deterministic for a given seed, so losses at different d are comparable.

The repair (:mod:`cellwak.graph.repair`) matters most here: the column-normalised kernel
divides by how often each cell is listed, and on the 100,000-cell benchmark HNSW's misses of
small tight groups raised L(d = 15, k = 27) by 110 % over exact neighbours; repaired, the losses
are within 0.4 % of exact neighbours for about one second per search (benchmarks/bench_dewak.py).
"""

from __future__ import annotations


from ..graph.approx import hnsw_knn
from ..graph.knn import KNN, exact_knn
from ..progress import NULL

EXACT_MAX_CELLS = 10_000
KNN_METHODS = ("auto", "exact", "hnsw")
HNSW_DEWAK = {"M": 16, "ef_construction": 64, "ef": 0, "build_threads": 1}  # ef 0: the floor, k + 1


def resolve_knn_method(n: int, method: str = "auto") -> str:
    if method not in KNN_METHODS:
        raise ValueError(f"unknown kNN method {method!r}; choose one of {KNN_METHODS}")
    if method != "auto":
        return method
    return "exact" if n <= EXACT_MAX_CELLS else "hnsw"


def neighbours(Y, k: int, *, method: str = "auto", seed: int = 0, progress=NULL) -> tuple[KNN, int]:
    """(k nearest neighbours of every row of ``Y``, self excluded, nearest first; cells repaired)."""
    if resolve_knn_method(Y.shape[0], method) == "exact":
        return exact_knn(Y, k, progress=progress), 0
    knn = hnsw_knn(Y, k, seed=seed, progress=progress, **HNSW_DEWAK)
    return knn, knn.repaired


