"""Approximate kNN for large data: hnswlib (HNSW graphs).

Chosen by measurement on this project's 2-core machine (benchmarks/bench_knn.py): on 100,000
cells x 32 dims of a Gaussian mixture, hnswlib (M=32, ef_construction=100, ef=64) reached
recall@15 0.98 in about 10 s, pynndescent 0.83 in 46 s (numba's compilation included; with lists of
2k it is now a candidate of ``auto``, :mod:`cellwak.graph.descent`), faiss HNSW 0.93 in 10 s, and
faiss IVF-Flat 0.95 only when scanning an eighth of the data per query, which grows quadratically.
HNSW can nevertheless miss small tight groups of cells entirely; the lists that show it are
repaired by exact search (:mod:`cellwak.graph.repair`).
"""

from __future__ import annotations

import time

import numpy as np

from ..progress import NULL
from .exact import KNN, recall, sample_truth, search_in_chunks
from .repair import finish
from .tree import drop_self

HNSW_DEFAULTS = {"M": 32, "ef_construction": 100, "ef": 64}
MAX_EF = 256     # the widest search beam the recall floor asks for (4x the default)
STALLED = 0.005  # a doubled beam that gains less recall than this ends the widening (the index limits it)


def hnsw_knn(X, k: int, *, M: int = HNSW_DEFAULTS["M"], ef_construction: int = HNSW_DEFAULTS["ef_construction"],
             ef: int | None = None, seed: int = 0, build_threads: int | None = None, threads: int | None = None,
             repair: bool = True, progress=NULL, chunks: int = 20, queries=None, min_recall: float | None = None,
             max_ef: int = MAX_EF, recall_sample: int = 1_000, timings: dict | None = None):
    """Approximate Euclidean kNN of the rows of ``X`` (self excluded, nearest first) with an HNSW
    index, followed by the repair of lists whose search visibly failed (:mod:`.repair`).

    ``ef`` (search beam) defaults to max(64, 2k) and is never below k + 1. The index is built on
    ``build_threads`` threads (default: torch's thread count); with several, the insertion order
    and hence the graph vary from run to run: ``build_threads=1`` makes the search
    deterministic for a seed. ``queries``: a callable (index, k) -> (indices, distances) that
    answers every cell's query elsewhere (:mod:`.sharded`: shards on a Dask cluster's workers);
    the same index and ``ef`` give the same lists.

    ``min_recall``: a floor on recall@k, measured on ``recall_sample`` random cells against their
    exact neighbours: the sample's cells are searched with the default beam, then twice it, until
    they reach the floor (at most ``max_ef``, and no further once a doubling gains less than
    ``STALLED``: then the graph, not the beam, limits the recall); every cell is then searched
    once with that beam (a cell's answer does not depend on the other queries). Recall falls as
    an index grows, so a graph that passed on a sample can miss on all cells (the 1,000,000-cell
    32-dim mixture: 0.928 at ef 64, 0.951 at 128; another build of the same index, on 2 threads:
    0.906, 0.929, 0.940, 0.942 at ef 64-512). The result's ``recall`` is then the sample's
    recall after the repair, and ``choice`` holds each beam tried with its recall.

    ``timings``: a dict that receives the seconds of the index build (``index``) and of the
    search of every cell (``search``), which the method choice projects apart.
    """
    import hnswlib
    import torch

    X = np.ascontiguousarray(X, dtype=np.float32)
    n, dim = X.shape
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n-1], got k={k} for n={n}")
    threads = threads or torch.get_num_threads()
    started = time.perf_counter()
    index = hnswlib.Index(space="l2", dim=dim)
    index.init_index(max_elements=n, ef_construction=ef_construction, M=M, random_seed=seed)
    index.set_num_threads(build_threads or threads)
    step = max(1, -(-n // chunks))
    with progress.task(f"kNN index (HNSW, {dim} dims)", total=n) as task:
        for start in range(0, n, step):
            stop = min(n, start + step)
            index.add_items(X[start:stop], np.arange(start, stop))
            task.advance(stop - start)
    index.set_num_threads(threads)
    beam = max(ef if ef is not None else max(64, 2 * k), k + 1)
    rows = truth = None
    beams = []
    if min_recall is not None:  # the beam is chosen on the sample's queries alone, then every cell searched once
        with progress.task(f"kNN recall ({min(n, recall_sample):,} cells vs exact)", total=1) as task:
            rows, truth = sample_truth(X, k, recall_sample, seed)
            beams.append({"ef": beam, "recall": _sample_recall(index, X, rows, k, beam, truth)})
            while beams[-1]["recall"] < min_recall and beam < max_ef and not _stalled(beams):
                beam = min(max_ef, 2 * beam)
                beams.append({"ef": beam, "recall": _sample_recall(index, X, rows, k, beam, truth)})
            task.advance()
    built = time.perf_counter()
    indices, distances = _search(index, X, k, beam, chunks, progress, queries)
    if timings is not None:
        timings.update(index=built - started, search=time.perf_counter() - built)
    return finish(X, KNN(indices, distances, method="hnsw"), repair_lists=repair, seed=seed, progress=progress,
                  rows=rows, truth=truth, choice={"recall_floor": min_recall, "beams": beams})


def _sample_recall(index, X, rows: np.ndarray, k: int, ef: int, truth: KNN) -> float:
    """Recall@k of the cells ``rows`` searched with beam ``ef``: what a search of every cell at that
    beam finds for them (each query is answered on its own)."""
    index.set_ef(ef)
    return round(recall(KNN(*query_cells(index, X[rows], rows, k)), truth), 4)


def _stalled(beams: list) -> bool:
    return len(beams) >= 2 and beams[-1]["recall"] - beams[-2]["recall"] < STALLED


def _search(index, X, k: int, ef: int, chunks: int, progress, queries):
    """Every cell's k nearest in ``index`` with search beam ``ef`` (here, or through ``queries``)."""
    index.set_ef(ef)
    if queries is not None:
        return queries(index, k)
    return search_in_chunks(len(X), k, lambda start, stop: query_hnsw(index, X, start, stop, k),
                            label=f"kNN search (HNSW, k={k}, ef={ef})", progress=progress, chunks=chunks)


def query_hnsw(index, X, start: int, stop: int, k: int, threads: int = -1):
    """The k nearest (self excluded) of the cells ``start:stop`` of ``X`` in ``index``."""
    return query_cells(index, X[start:stop], np.arange(start, stop), k, threads)


def query_cells(index, points, rows: np.ndarray, k: int, threads: int = -1):
    """The k nearest in ``index`` (self excluded, distances) of ``points``, the cells ``rows``."""
    idx, d2 = index.knn_query(points, k=k + 1, num_threads=threads)
    idx, d2 = drop_self(idx.astype(np.int64), d2, rows, k)
    return idx, np.sqrt(np.maximum(d2, 0)).astype(np.float32)
