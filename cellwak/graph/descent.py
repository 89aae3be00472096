"""Approximate kNN by nearest-neighbour descent (pynndescent, already installed with umap-learn).

NN-descent refines random neighbour lists by looking at neighbours of neighbours; its cost is in
local joins, not in building a search structure, so on the low-dimensional data of cytometry and
on 30-50 PCA dimensions it is the fastest approximate search on two CPU cores (measured at
200,000 cells with pynndescent 0.7 and hnswlib 0.8 on this project's 2-core machine, shared with
other jobs: 18 flow channels, lists of 32: 47 s at recall@15 0.998 against cellwak's HNSW (M = 32)
215 s at 0.999; the 32-dim mixture: lists of 32 reached 0.970 in 45 s, of 48 0.994 in 69 s).

Its recall at a given list length falls as the data grows (18 flow channels, n_neighbors 16:
0.975 at 20,000 cells, 0.952 at 200,000, 0.918 at 1,000,000; the 32-dim mixture, lists of 31:
0.995 at 20,000 cells, 0.926 at 1,000,000, where lists of 46 reach 0.981), so lists longer than k are built
and cut to k: ``LADDER`` gives the lengths as multiples of k, and with a recall floor each is
tried in turn until recall@k, measured on a sample of cells against their exact neighbours,
reaches the floor. The first call in a process compiles pynndescent's numba code (tens of
seconds on 2 shared cores); :func:`warm_up` does it on a few hundred points so that a probe's
timing measures the search alone.
"""

from __future__ import annotations

import time

import numpy as np

from ..progress import NULL
from .exact import KNN, recall, sample_truth
from .repair import finish
from .tree import drop_self

LADDER = (2, 3)   # list lengths tried, as multiples of k (the list is cut to k)
WARM_UP_CELLS = 300


def warm_up(dim: int, threads: int | None = None) -> float:
    """Compile pynndescent's numba functions on a small random set; returns the seconds it took."""
    from pynndescent import NNDescent

    t = time.perf_counter()
    X = np.random.default_rng(0).standard_normal((WARM_UP_CELLS, max(dim, 2))).astype(np.float32)
    NNDescent(X, n_neighbors=16, random_state=0, n_jobs=threads or 1).neighbor_graph
    return time.perf_counter() - t


def descent_lists(X, k: int, n_neighbors: int, *, seed: int = 0, threads: int | None = None):
    """One NN-descent of ``X`` with lists of ``n_neighbors`` (> k), cut to the k nearest others."""
    if n_neighbors <= k:
        raise ValueError(f"lists of {n_neighbors} cannot hold the k = {k} nearest others and the cell itself")
    import torch
    from pynndescent import NNDescent

    threads = threads or torch.get_num_threads()
    index = NNDescent(X, n_neighbors=n_neighbors, random_state=seed, n_jobs=threads, low_memory=True,
                      compressed=True)
    idx, dist = index.neighbor_graph
    del index  # its search trees go now; only the lists are needed
    # the lists are sorted by distance, so each cell's k nearest others lie in its first k + 1 entries: only
    # those are copied (at 1,000,000 cells and lists of 46, int64 copies of the full lists were 0.7 GB), and
    # copies, not views, so that nothing keeps the n x n_neighbors lists alive through the graph and Leiden
    return drop_self(np.array(idx[:, :k + 1], dtype=np.int64), np.array(dist[:, :k + 1], dtype=np.float32),
                     np.arange(X.shape[0]), k)


def nndescent_knn(X, k: int, *, seed: int = 0, threads: int | None = None, ladder=LADDER,
                  min_recall: float | None = None, recall_sample: int = 1_000, repair: bool | str = "if needed",
                  progress=NULL) -> KNN:
    """Approximate Euclidean kNN of the rows of ``X`` (self excluded, nearest first) by NN-descent
    with lists of ``ladder[0] * k + 1``; with ``min_recall``, longer lists (the next multiples of
    ``ladder``) while recall@k on ``recall_sample`` cells stays below it. Lists whose search
    visibly failed are searched again exactly (:mod:`.repair`; by default only when a sample of them
    shows the search really missed their neighbours, as it rarely does). The result's ``choice`` holds each
    list length tried with its seconds and recall; ``recall`` is the sample's after the repair."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n-1], got k={k} for n={n}")
    rows = truth = None
    tried = []
    for factor in ladder:
        length = min(n, factor * k + 1)
        with progress.task(f"kNN (NN-descent, lists of {length}, {X.shape[1]} dims)", total=1) as task:
            t = time.perf_counter()
            indices, distances = descent_lists(X, k, length, seed=seed, threads=threads)
            tried.append({"n_neighbors": length, "seconds": round(time.perf_counter() - t, 2)})
            task.advance()
        if min_recall is None:
            break
        if truth is None:
            with progress.task(f"kNN recall ({min(n, recall_sample):,} cells vs exact)", total=1) as task:
                rows, truth = sample_truth(X, k, recall_sample, seed)
                task.advance()
        tried[-1]["recall"] = round(recall(KNN(indices[rows], distances[rows]), truth), 4)
        if tried[-1]["recall"] >= min_recall or length >= n:
            break
    return finish(X, KNN(indices, distances, method="nndescent"), repair_lists=repair, seed=seed, progress=progress,
                  rows=rows, truth=truth, choice={"recall_floor": min_recall, "lists": tried})
