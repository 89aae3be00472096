"""Which kNN search fits the data at hand: decided by timing each candidate on the data itself.

The cost of a k-d tree depends on the data's intrinsic dimension, not on its column count (a
mixture of tight populations in 18 columns can be easy, noise in 10 hard), and HNSW's cost
depends on the dimension and the machine. So ``auto`` on more than ``EXACT_MAX_CPU`` cells on the
CPU measures them on the data:

- k-d tree: the tree is built on all cells (about a second per million cells at 8-32 dims; kept
  when the tree wins) and ``TREE_PROBE`` random cells are queried; projected time = build +
  per-query time x n.
- NN-descent (:mod:`.descent`), only where HNSW's projected time exceeds
  ``DESCENT_WORTH_SECONDS`` (pynndescent's numba code is compiled in every process that runs it,
  about 50 s here, which a faster search must repay): the code is compiled first on a few hundred
  points (not timed as search), then lists of ``descent.LADDER`` x k are built on the same
  random sample of ``HNSW_PROBE`` cells, the shortest reaching recall@k ``DESCENT_LIGHT_RECALL``
  on it kept (the full search rebuilds with longer lists where it misses the floor); projected
  time as for HNSW below.
- IVF (:mod:`.ivf`, faiss), where faiss is installed: the index is built on all cells (seconds in
  few dimensions; kept when it wins), and ``IVF_SAMPLE`` random cells, with their exact
  neighbours, are searched in it at widening ``nprobe`` until recall@k reaches ``ivf.RECALL``.
  That recall is the full search's own (the index is the one that answers every cell, each query
  on its own), so unlike the HNSW and NN-descent probes it needs no margin for growth. Projected
  time = build + per-query time x n; no width reaching the bar leaves IVF out, and the widening
  stops once it is projected slower than the tree.
- HNSW: indexes of increasing size (``HNSW_LADDER``) are built on a random sample of
  ``HNSW_PROBE`` cells until a lighter one reaches recall@k ``LIGHT_RECALL`` on the sample
  (the heaviest is used otherwise); projected time = its per-cell time x n x (n / sample) ^ 0.2
  (insertion and search cost grow with the index: measured, the logarithm alone undershot 2x at
  1,000,000 cells, where the index no longer fits in the caches). The bar for a lighter
  graph is near-perfect because recall falls as the index grows: on the 1,000,000-cell 32-dim
  mixture, M = 16 passed 0.99 on the sample and found 0.80 of the neighbours on all cells
  (ARI 0.69 against 1.00 at M = 32); on 18 flow channels M = 12 went from 0.9935 to 0.955.

The fastest projection wins. The probes cost a few seconds against searches of minutes, and the
evidence (probe times, projections, the choice) goes into the clustering's provenance. Exact
blocked search stays the choice up to ``EXACT_MAX_CPU`` cells and always on CUDA.

With a Dask scheduler (``remote_threads``: its workers' threads) the queries of the k-d tree, IVF
and HNSW run in shards on the workers (:mod:`.sharded`) while the index is built here and
NN-descent runs here whole, so the projected query time of those three is divided among the
workers' threads (times the share of this process's threads that measured it): a tree projected
at 130 s on 2 threads here is projected at 16 s on 16 worker threads, and wins where HNSW's build
or NN-descent, which the workers cannot share, would not.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

EXACT_MAX_CPU = 50_000
TREE_PROBE = 2_000
HNSW_PROBE = 20_000
TREE_SURE_SECONDS = 5.0  # a projected tree search this short needs no HNSW probe
TREE_HOPELESS_SECONDS = 3600.0  # projected from the first tenth of the probe: the rest is not asked
HNSW_LADDER = ((12, 48), (16, 64), (32, 100))  # (M, ef_construction), lightest first; the last is approx.HNSW_DEFAULTS
LIGHT_RECALL = 0.999     # a lighter graph than the last must reach this on the sample (recall falls as the index grows)
DESCENT_LIGHT_RECALL = 0.998  # NN-descent's shorter lists are kept at this recall on the sample: from 20,000 to
                              # 1,000,000 cells the recall deficit of lists of 31 grew 4.5x on 18 flow channels
                              # (0.9987 -> 0.9941) and 15x on the 32-dim mixture (0.9952 -> 0.926, where the full
                              # search had to be rebuilt with lists of 46); a deficit of 0.002 allows 25x
DESCENT_COMPILE_SECONDS = 50.0  # pynndescent's numba compilation, paid by every process that runs it (measured: 49 s)
DESCENT_WORTH_SECONDS = 2 * DESCENT_COMPILE_SECONDS  # NN-descent is probed only where every other search is projected above this
HNSW_GROWTH = 0.2        # per-cell HNSW time grows as n ^ 0.2: measured 2026-12-01 on 8 flow channels (M = 12, 2 cores),
                         # 20,000 -> 1,000,000 cells: build 0.48 -> 39.4 s, search 0.32 -> 46.6 s (86 s, 2.15x
                         # the per-cell time x n; log(n) / log(m) gave 1.40x)
PROBE_QUERIES = 500
IVF_SAMPLE = 1_000       # cells whose recall decides the IVF width (and is reported as the search's)
MIN_RECALL = 0.95        # the floor an HNSW or NN-descent search of all cells is held to (their min_recall)


@dataclass
class Choice:
    method: str
    tree: object = None                         # the k-d tree built while probing, when it won
    evidence: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # settings of the chosen search (HNSW's M, ef_construction)
    index: object = None                        # the IVF index built while probing, when it won


def choose(X, k: int, method: str = "auto", device: str = "cpu", *, seed: int = 0,
           threads: int | None = None, remote_threads: int | None = None) -> Choice:
    """The search for ``neighbors`` (``method`` other than auto is returned as given);
    ``remote_threads``: the threads of the Dask workers that will answer the queries, if any."""
    n = X.shape[0]
    if method != "auto":
        return Choice(method, evidence={"rule": "as asked"})
    if device.startswith("cuda"):
        return Choice("exact", evidence={"rule": "exact on CUDA"})
    if n <= EXACT_MAX_CPU:
        return Choice("exact", evidence={"rule": f"exact up to {EXACT_MAX_CPU:,} cells on the CPU"})
    rng = np.random.default_rng(seed)
    share = query_share(threads, remote_threads)
    tree, tree_s, tree_detail = _probe_tree(X, k, rng, threads, share)
    evidence = {"rule": "fastest projected search", "probe": {"kdtree": tree_detail},
                "projected_seconds": {"kdtree": round(tree_s, 2)}}
    if remote_threads:
        evidence["queries"] = (f"in shards on {remote_threads} Dask worker threads: the query time of the tree, IVF "
                               f"and HNSW projected x {share:.3g} (NN-descent and index builds run here)")
    if tree_s <= TREE_SURE_SECONDS:
        evidence["rule"] = f"k-d tree projected under {TREE_SURE_SECONDS:g} s (IVF and HNSW not probed)"
        return Choice("kdtree", tree, evidence)
    ivf_s, ivf_detail, ivf_index = _probe_ivf(X, k, threads, seed, give_up=tree_s, share=share)
    evidence["probe"]["ivf"] = ivf_detail
    if ivf_index is not None:
        evidence["projected_seconds"]["ivf"] = round(ivf_s, 2)
    m = min(n, HNSW_PROBE)
    sample = np.asarray(X[np.sort(rng.choice(n, size=m, replace=False))], dtype=np.float32)
    hnsw_s, hnsw_detail = _probe_hnsw(sample, n, k, threads, seed, share)
    evidence["probe"]["hnsw"] = hnsw_detail
    evidence["projected_seconds"]["hnsw"] = round(hnsw_s, 2)
    descent_s, descent_detail = float("inf"), {}
    fastest_s, fastest = min((tree_s, "the k-d tree"), (ivf_s, "IVF"), (hnsw_s, "HNSW"))
    if fastest_s > DESCENT_WORTH_SECONDS:
        descent_s, descent_detail = _probe_descent(sample, n, k, threads, seed)
        evidence["probe"]["nndescent"] = descent_detail
        evidence["projected_seconds"]["nndescent"] = round(descent_s, 2)
    else:  # its compilation alone would cost about half of the fastest search
        evidence["nndescent"] = (f"not probed: {fastest} is projected at {fastest_s:.0f} s, under "
                                 f"{DESCENT_WORTH_SECONDS:.0f} s, too little for NN-descent to repay its compilation "
                                 f"(~{DESCENT_COMPILE_SECONDS:.0f} s)")
    best = min((tree_s, "kdtree"), (descent_s, "nndescent"), (hnsw_s, "hnsw"), (ivf_s, "ivf"))[1]
    if best == "kdtree":
        return Choice("kdtree", tree, evidence)
    if best == "ivf":
        return Choice("ivf", None, evidence, index=ivf_index, options=ivf_detail["params"])
    return Choice(best, None, evidence, options=(hnsw_detail if best == "hnsw" else descent_detail)["params"])


def query_share(threads: int | None, remote_threads: int | None) -> float:
    """The factor on query time measured here on ``threads`` (default: torch's) when the queries
    run instead on ``remote_threads`` worker threads (1 without workers)."""
    if not remote_threads:
        return 1.0
    import torch

    return (threads or torch.get_num_threads()) / remote_threads


def _probe_tree(X, k: int, rng, threads, share: float = 1.0):
    import torch

    from .tree import build_tree

    n = X.shape[0]
    t = time.perf_counter()
    tree = build_tree(X)
    build = time.perf_counter() - t
    sample = rng.choice(n, size=min(n, TREE_PROBE), replace=False)
    workers = threads or torch.get_num_threads()
    first = sample[:TREE_PROBE // 10]  # a tenth first: in many dimensions one query can take 10 ms
    t = time.perf_counter()
    tree.query(np.asarray(X[first], dtype=np.float32), k=k + 1, workers=workers)
    query, asked = time.perf_counter() - t, len(first)
    if build + query / asked * n * share <= TREE_HOPELESS_SECONDS:
        t = time.perf_counter()
        tree.query(np.asarray(X[sample[asked:]], dtype=np.float32), k=k + 1, workers=workers)
        query, asked = query + time.perf_counter() - t, len(sample)
    projected = build + query / asked * n * share
    return tree, projected, {"build_seconds": round(build, 3), "queries": int(asked), "query_seconds": round(query, 3)}


def _probe_ivf(X, k: int, threads, seed: int, give_up: float, share: float = 1.0):
    """IVF on all cells: (projected seconds, evidence, the index); (inf, why, None) where faiss is
    missing or no width of ``ivf.LADDER`` reaches ``ivf.RECALL`` before it is projected slower
    than ``give_up`` seconds. The queries' time is projected x ``share`` (Dask workers)."""
    from . import ivf
    from .exact import sample_truth

    if not ivf.available():
        return math.inf, {"skipped": "faiss is not installed (pip install faiss-cpu)"}, None
    n = X.shape[0]
    t = time.perf_counter()
    index = ivf.build_index(X, seed=seed, threads=threads)
    build = time.perf_counter() - t
    rows, truth = sample_truth(X, k, IVF_SAMPLE, seed)
    tried = ivf.widen(index, X, k, rows, truth, threads=threads, give_up_seconds=give_up / share)
    last = tried[-1]
    detail = {"lists": int(index.nlist), "build_seconds": round(build, 3), "cells": int(len(rows)), "tried": tried}
    if last["recall"] < ivf.RECALL:
        detail["skipped"] = (f"no width reached recall {ivf.RECALL} on the sample" if last["nprobe"] == ivf.LADDER[-1]
                             else f"nprobe {last['nprobe']} already projected slower than the tree")
        return math.inf, detail, None
    detail["params"] = {"nprobe": last["nprobe"], "recall": last["recall"]}
    return build + last["query_ms"] / 1e3 * n * share, detail, index


def _project(seconds: float, m: int, n: int) -> float:
    """A search's time on ``n`` cells from its time on ``m``: per cell x n x log(n) / log(m)."""
    return seconds / m * n * math.log(n) / math.log(m)


def _project_hnsw(seconds: float, m: int, n: int) -> float:
    """An HNSW build's or search's time on ``n`` cells from its time on ``m``: per cell x n x
    (n / m) ^ ``HNSW_GROWTH``. The logarithm alone undershot by 2x at 1,000,000 cells: an index
    that outgrows the caches makes every step of a graph walk a memory miss."""
    return seconds / m * n * (n / m) ** HNSW_GROWTH


def _probe_descent(sample, n: int, k: int, threads, seed: int):
    """The shortest NN-descent lists (``descent.LADDER`` x k) whose recall@k on the sample reaches
    ``DESCENT_LIGHT_RECALL`` (else the longest), and the projected time; the numba compilation, once per
    process, is timed apart."""
    from .descent import LADDER, descent_lists, warm_up
    from .exact import KNN

    compile_s = warm_up(sample.shape[1], threads)
    m = len(sample)
    tried = []
    for i, factor in enumerate(LADDER):
        t = time.perf_counter()
        idx, dist = descent_lists(sample, k, min(m, factor * k + 1), seed=seed, threads=threads)
        seconds = time.perf_counter() - t
        got = estimated_recall(sample, KNN(idx, dist), sample=PROBE_QUERIES, seed=seed)
        tried.append({"n_neighbors": min(m, factor * k + 1), "seconds": round(seconds, 3), "recall": round(got, 4)})
        if got >= DESCENT_LIGHT_RECALL:
            break
    return _project(seconds, m, n), {"cells": int(m), "compile_seconds": round(compile_s, 2), "tried": tried,
                                     "params": {"ladder": list(LADDER[i:])}}


def _probe_hnsw(sample, n: int, k: int, threads, seed: int, share: float = 1.0):
    """The lightest HNSW graph (``HNSW_LADDER``) whose recall@k on the sample reaches
    ``LIGHT_RECALL`` (else the heaviest), and its projected time: a light graph builds 1.5-2x faster and keeps its
    recall in few dimensions, but not in many (measured at 200,000 cells: M=12 recall 0.9999 on 8
    flow channels, 0.977 on 18, 0.83 on the 32-dim mixture, where M=32 gives 0.983). The index
    build and the search are projected apart: the search's time times ``share`` (queries on Dask
    workers)."""
    from .approx import hnsw_knn

    m = len(sample)
    tried = []
    for M, efc in HNSW_LADDER:
        parts = {}
        knn = hnsw_knn(sample, k, M=M, ef_construction=efc, seed=seed, threads=threads, repair=False, timings=parts)
        got = estimated_recall(sample, knn, sample=PROBE_QUERIES, seed=seed)
        tried.append({"M": M, "ef_construction": efc, "seconds": round(parts["index"] + parts["search"], 3),
                      "index_seconds": round(parts["index"], 3), "recall": round(got, 4)})
        if got >= LIGHT_RECALL:
            break
    projected = _project_hnsw(parts["index"], m, n) + _project_hnsw(parts["search"], m, n) * share
    return projected, {"cells": int(m), "tried": tried, "params": {"M": M, "ef_construction": efc}}


def estimated_recall(X, knn, *, sample: int = 1_000, seed: int = 0, device: str = "cpu") -> float:
    """Recall@k of an approximate search on ``sample`` random cells against their exact
    neighbours (exact blocked search of those cells among all cells)."""
    from .exact import KNN, recall, sample_truth

    rows, truth = sample_truth(X, knn.indices.shape[1], sample, seed, device)
    return recall(KNN(knn.indices[rows], knn.distances[rows]), truth)
