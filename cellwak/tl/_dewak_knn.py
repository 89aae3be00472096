"""Neighbour lists for DEWAK: exact or HNSW plus its repair step, by the package's one rule
(:func:`cellwak.graph.knn.resolve_method`: exact up to 50,000 cells on the CPU, HNSW above; DEWAK
searches a new representation at every d it visits, so it does not pay the k-d tree/HNSW probe of
:mod:`cellwak.graph.choose` each time; a method named explicitly (kdtree, ivf, nndescent) is used as
named).

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

from ..choices import KNN_METHODS
from ..graph.approx import hnsw_knn
from ..graph.knn import KNN, exact_knn, resolve_method
from ..graph.choose import MIN_RECALL
from ..graph.descent import nndescent_knn
from ..graph.ivf import ivf_knn
from ..graph.tree import kdtree_knn
from ..progress import NULL

HNSW_DEWAK = {"M": 16, "ef_construction": 64, "ef": 0, "build_threads": 1}  # ef 0: the floor, k + 1


def resolve_knn_method(n: int, method: str = "auto") -> str:
    """DEWAK runs on the CPU; the rule is the package's."""
    return resolve_method(n, method, "cpu")


def neighbours(Y, k: int, *, method: str = "auto", seed: int = 0, progress=NULL) -> tuple[KNN, int]:
    """(k nearest neighbours of every row of ``Y``, self excluded, nearest first; cells repaired)."""
    chosen = resolve_knn_method(Y.shape[0], method)
    if chosen == "exact":
        return exact_knn(Y, k, progress=progress), 0
    if chosen == "kdtree":
        return kdtree_knn(Y, k, progress=progress), 0
    if chosen == "ivf":
        return ivf_knn(Y, k, seed=seed, progress=progress), 0
    if chosen == "nndescent":
        knn = nndescent_knn(Y, k, seed=seed, progress=progress, min_recall=MIN_RECALL)
        return knn, knn.repaired
    knn = hnsw_knn(Y, k, seed=seed, progress=progress, **HNSW_DEWAK)
    return knn, knn.repaired


__all__ = ["KNN_METHODS", "neighbours", "resolve_knn_method"]
