"""Many Leiden runs (resolutions x seeds x subsamples) spread over processes.

Leiden is single-threaded; a sweep is embarrassingly parallel. Workers are forked after the
graphs are built, so they inherit them without pickling; each task returns only its labels.
Inside :func:`._distributed.scheduler` the runs go to a Dask cluster instead (same labels).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from ..graph.leiden import leiden, to_igraph

_GRAPHS: dict = {}


def _task(args):
    graph_id, gamma, seed, n_iterations = args
    adjacency, g, weighted, edges = _GRAPHS[graph_id]
    return leiden(adjacency, gamma, seed=seed, n_iterations=n_iterations, graph=g, weighted=weighted,
                  policy_edges=edges).astype(np.int32)


def default_jobs() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8))


def run_many(graphs: dict, tasks: list[tuple], *, n_jobs: int | None = None, progress_task=None,
             backend: str = "igraph", cache: dict | None = None, policy_edges: dict | None = None) -> list[np.ndarray]:
    """``graphs``: id -> sparse adjacency; ``tasks``: (graph id, gamma, seed, n_iterations).
    Returns labels per task, in order. ``backend='julia'``: CellWAK.jl's Leiden in one Julia
    process (:mod:`._julia_leiden`) instead of igraph in worker processes. ``cache``: a dict kept
    by the caller between calls on the same graphs, so each is converted to igraph once (5 s per
    graph at 1,000,000 cells). ``policy_edges``: graph id -> the edge count Leiden's iteration
    tolerance is read from (:func:`cellwak.graph.leiden._until_stable`; default each graph's own)."""
    from ._distributed import current, run_on_cluster

    weighted = {gid: bool(A.nnz) and not np.all(A.data == A.data[0]) for gid, A in graphs.items()}
    if backend == "julia":
        from ._julia_leiden import run_many_julia

        return run_many_julia(graphs, tasks, weighted, progress_task, policy_edges=policy_edges)
    if backend == "cugraph":  # one GPU: the runs one after another in this process
        return [_advance(leiden(graphs[gid], gamma, seed=seed, n_iterations=n_iter, weighted=weighted[gid],
                                backend="cugraph").astype(np.int32), progress_task)
                for gid, gamma, seed, n_iter in tasks]
    address = current()
    if address is not None:
        return run_on_cluster(address, graphs, weighted, tasks, progress_task, policy_edges=policy_edges)
    global _GRAPHS
    cache = {} if cache is None else cache
    for gid, A in graphs.items():
        if gid not in cache:
            cache[gid] = (A, to_igraph(A, weighted=weighted[gid]), weighted[gid])
    policy_edges = policy_edges or {}
    _GRAPHS = {gid: (*cache[gid], policy_edges.get(gid)) for gid in graphs}
    n_jobs = n_jobs or default_jobs()
    results = []
    try:
        if n_jobs == 1 or len(tasks) == 1:
            for t in tasks:
                results.append(_task(t))
                if progress_task is not None:
                    progress_task.advance()
            return results
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("fork")) as pool:
            for labels in pool.map(_task, tasks, chunksize=1):
                results.append(labels)
                if progress_task is not None:
                    progress_task.advance()
        return results
    finally:
        _GRAPHS = {}


def _advance(labels: np.ndarray, progress_task) -> np.ndarray:
    if progress_task is not None:
        progress_task.advance()
    return labels
