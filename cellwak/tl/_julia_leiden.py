"""The Leiden runs of a sweep in Julia (CellWAK.jl, ``--backend julia``): one request per graph,
the graph sent once and its runs spread over Julia's threads.

The iteration policy is the Python path's (:func:`cellwak.graph.leiden._until_stable`):
``n_iterations = -1`` iterates from the previous partition while an iteration raises modularity
by more than ``tolerance_for(edges)`` x |Q| (a smaller gain is kept and ends the run, a loss is dropped), at
most ``MAX_ITERATIONS`` iterations; the Julia kernel (``julia/src/leiden.jl``) receives both
numbers, read from that module at call time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..choices import SWEEP_BACKENDS
from ..graph import leiden as leiden_module
from ..graph.leiden import relabel_by_size

__all__ = ["SWEEP_BACKENDS", "iteration_policy", "julia_info", "run_many_julia"]


def iteration_policy(n_edges: int) -> dict:
    """The Python path's iteration policy (tolerance, cap) on a graph of ``n_edges``, for the Julia kernel."""
    return {"tolerance": float(leiden_module.tolerance_for(n_edges)), "max_iterations": int(leiden_module.MAX_ITERATIONS)}


def julia_info() -> dict:
    """Provenance of the Julia kernels (transport, version, executable) and the iteration policy."""
    from ..backends.julia import shared_kernels

    return {**shared_kernels().describe(), "julia_leiden_tolerance": float(leiden_module.TOLERANCE),
            "julia_leiden_tolerance_from_edges": int(leiden_module.TOLERANCE_FROM_EDGES),
            "julia_leiden_max_iterations": int(leiden_module.MAX_ITERATIONS)}


def run_many_julia(graphs: dict, tasks: list[tuple], weighted: dict, progress_task=None,
                   policy_edges: dict | None = None) -> list[np.ndarray]:
    """Labels per task ((graph id, gamma, seed, n_iterations)), in order, from Julia's Leiden.
    An unweighted graph is sent as 0/1 (as :func:`cellwak.graph.leiden.leiden` does).
    ``policy_edges``: graph id -> the edge count the iteration tolerance is read from."""
    from ..backends.julia import shared_kernels

    kernels = shared_kernels()
    results: list = [None] * len(tasks)
    groups: dict = {}
    for pos, (gid, gamma, seed, n_iterations) in enumerate(tasks):
        groups.setdefault((gid, int(n_iterations)), []).append(pos)
    for (gid, n_iterations), positions in groups.items():
        A = graphs[gid]
        A = A if weighted[gid] else (A != 0).astype(np.float64)
        policy = iteration_policy((policy_edges or {}).get(gid) or sp.triu(A, k=1).nnz)
        labels = kernels.leiden_many(A, [tasks[p][1] for p in positions], [tasks[p][2] for p in positions],
                                     n_iterations=n_iterations, **policy)
        for p, lab in zip(positions, labels):
            results[p] = relabel_by_size(lab).astype(np.int32)
        if progress_task is not None:
            for _ in positions:
                progress_task.advance()
    return results
