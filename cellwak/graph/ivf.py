"""Approximate kNN with an inverted-file index (faiss ``IndexIVFFlat``), for few dimensions.

The cells are split into ``lists(n)`` groups by k-means (about 4 sqrt(n)); a query scans the
``nprobe`` groups whose centres are nearest. Building costs a k-means on a sample and one
assignment of every cell: 1.3 s for 1,000,000 cells in 8 dimensions, where an HNSW graph takes
37 s. Measured on 1,000,000 cells of flowsom_bal's 8 lineage markers (smoothed bootstrap), 2
shared cores, faiss-cpu 1.15: nprobe 16 found 0.985 of the 15 nearest in 37.6 s in all, nprobe 32
0.999 in 57 s, HNSW (M = 12, the lightest passing cellwak's bar there) 1.000 in 73 s. In more
dimensions the groups' borders hold more of each cell's neighbours and the scan must widen: on 18
flow channels (200,000 cells) nprobe 32 reached only 0.93; there HNSW or NN-descent win, which
:mod:`.choose` measures rather than assumes.

Unlike HNSW's or NN-descent's, an IVF index's recall is measured on the index that answers every
cell: the sample's cells are searched in it exactly as they are in the full search (one query
does not depend on the others), so the recall of the sample is the search's, with no growth of the
index to extrapolate. The widening stops at the first ``nprobe`` of ``LADDER`` that reaches the
bar. The repair of :mod:`.repair` is not applied: it targets HNSW's failure (small tight groups
left unreachable in its graph), which cannot happen here (a tight group lies in one or a few lists,
which its own cells always scan); an IVF miss is a neighbour across a list border, which the
repair's random cap of 5,000 cells at 1,000,000 would barely touch.

faiss is a well-kept library (Meta's) with wheels for Linux, macOS and Windows; its OpenMP threads
are set per call and restored.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import numpy as np

from ..progress import NULL
from .exact import KNN, recall, sample_truth, search_in_chunks
from .repair import finish
from .tree import drop_self

LADDER = (8, 16, 32, 64)  # nprobe values tried, narrowest first
RECALL = 0.98             # the bar a width must reach on the sample (measured on the full index)
TRAIN_PER_LIST = 40       # k-means sample: 40 cells per list (faiss warns below 39)


def available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def lists(n: int) -> int:
    """The number of lists for ``n`` cells: the power of two nearest 4 sqrt(n), 64..65,536."""
    return int(min(65_536, max(64, 2 ** round(math.log2(4 * math.sqrt(n))))))


@contextmanager
def _threads(threads: int | None):
    import faiss
    import torch

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(threads or torch.get_num_threads()))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def build_index(X, *, seed: int = 0, threads: int | None = None):
    """An IVF-Flat index of the rows of ``X`` (float32, contiguous): k-means on a seeded sample
    of ``TRAIN_PER_LIST`` cells per list, then every cell added."""
    import faiss

    X = np.ascontiguousarray(X, dtype=np.float32)
    n, dim = X.shape
    nlist = min(lists(n), max(1, n // TRAIN_PER_LIST))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist)
    index.cp.seed = int(seed)
    train = np.sort(np.random.default_rng(seed).choice(n, size=min(n, TRAIN_PER_LIST * nlist), replace=False))
    with _threads(threads):
        index.train(X[train])
        index.add(X)
    return index


def query(index, points, rows: np.ndarray, k: int, nprobe: int, threads: int | None = None):
    """The k nearest in ``index`` (self excluded, Euclidean distances) of ``points``, the cells ``rows``."""
    index.nprobe = int(nprobe)
    with _threads(threads):
        d2, idx = index.search(np.ascontiguousarray(points, dtype=np.float32), k + 1)
    idx, d2 = drop_self(idx.astype(np.int64), d2, rows, k)
    return idx, np.sqrt(np.maximum(d2, 0)).astype(np.float32)


def widen(index, X, k: int, rows: np.ndarray, truth: KNN, *, bar: float = RECALL, ladder=LADDER,
          threads: int | None = None, give_up_seconds: float = math.inf):
    """Search the sample's cells ``rows`` at each width of ``ladder`` until recall@k reaches
    ``bar``; returns the list of widths tried (nprobe, recall, seconds per query). Stops early
    once a width's projected search of all cells (seconds per query x n) exceeds
    ``give_up_seconds``: a wider scan only costs more."""
    tried = []
    points = np.asarray(X[rows], dtype=np.float32)
    for nprobe in ladder:
        t = time.perf_counter()
        idx, dist = query(index, points, rows, k, nprobe, threads)
        per_query = (time.perf_counter() - t) / len(rows)
        got = recall(KNN(idx, dist), truth)
        tried.append({"nprobe": int(nprobe), "recall": round(got, 4), "query_ms": round(1e3 * per_query, 4)})
        if got >= bar or per_query * len(X) > give_up_seconds:
            break
    return tried


def ivf_knn(X, k: int, *, index=None, nprobe: int | None = None, seed: int = 0, threads: int | None = None,
            min_recall: float | None = RECALL, recall_sample: int = 1_000, progress=NULL, chunks: int = 20,
            queries=None) -> KNN:
    """Approximate Euclidean kNN of the rows of ``X`` (self excluded, nearest first) in an
    IVF-Flat index (``index``: one :func:`build_index` already built on ``X``). ``nprobe`` given:
    that width. Otherwise the narrowest width of ``LADDER`` whose recall@k on ``recall_sample``
    random cells reaches ``min_recall`` (the widest if none does); without ``min_recall``, 16.
    The result's ``recall`` is the sample's, its ``choice`` the widths tried. ``queries``: a
    callable (index, nprobe, k) -> (indices, distances) answering every cell's query elsewhere
    (:mod:`.sharded`: shards on a Dask cluster's workers; the same lists)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n-1], got k={k} for n={n}")
    if index is None:
        with progress.task(f"kNN index (IVF, {X.shape[1]} dims)", total=1) as task:
            index = build_index(X, seed=seed, threads=threads)
            task.advance()
    rows = truth = None
    tried = []
    if nprobe is None and min_recall is not None:
        with progress.task(f"kNN recall ({min(n, recall_sample):,} cells vs exact)", total=1) as task:
            rows, truth = sample_truth(X, k, recall_sample, seed)
            tried = widen(index, X, k, rows, truth, bar=min_recall, threads=threads)
            nprobe = tried[-1]["nprobe"]
            task.advance()
    nprobe = int(nprobe or 16)
    if queries is not None:
        indices, distances = queries(index, nprobe, k)
    else:
        indices, distances = search_in_chunks(
            n, k, lambda start, stop: query(index, X[start:stop], np.arange(start, stop), k, nprobe, threads),
            label=f"kNN search (IVF, k={k}, nprobe={nprobe})", progress=progress, chunks=chunks)
    return finish(X, KNN(indices, distances, method="ivf"), repair_lists=False, seed=seed, progress=progress,
                  rows=rows, truth=truth, choice={"recall_floor": min_recall, "nprobe": tried, "lists": int(index.nlist)})
