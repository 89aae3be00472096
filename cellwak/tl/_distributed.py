"""Leiden runs on a Dask cluster (``dask.distributed``), for sweeps past one machine.

A resolution sweep and its subsample stability are many independent Leiden runs on a few graphs
(the full graph, 80% subsample graphs). On one machine :mod:`._parallel_leiden` forks processes;
with a scheduler address (``--scheduler tcp://host:8786`` or ``CELLWAK_DASK_SCHEDULER``) the same
runs go to the cluster's workers instead: each graph is sent once to every worker (scatter,
broadcast), each run returns only its labels. Leiden is seeded per run, so the labels are the
ones the single-process path gives (tested against a ``LocalCluster`` of 2 workers).

Dask is optional (``pip install 'cellwak[dask]'``); without it, or with a scheduler that does not
answer, the operation is refused before any work (one line, exit status 2).
"""

from __future__ import annotations

import contextvars
import os
import re
import weakref
from contextlib import contextmanager

import numpy as np

from ..errors import InputError

ENV = "CELLWAK_DASK_SCHEDULER"
CONNECT_TIMEOUT = "10s"
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://[^\s]+$")
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("cellwak_dask_scheduler", default=None)


def resolve(address: str | None) -> str | None:
    """The scheduler to use: ``address``, else ``$CELLWAK_DASK_SCHEDULER``, else None (local)."""
    chosen = address if address else os.environ.get(ENV) or None
    if chosen is not None and not _ADDRESS.match(chosen):
        raise InputError(f"--scheduler {chosen!r} is not a Dask scheduler address",
                         "give one like tcp://host:8786 (what `dask scheduler` prints), or leave it out to run here")
    return chosen


def _client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask's distributed scheduler, which is not installed",
                         "pip install 'cellwak[dask]' (dask[distributed]), or leave --scheduler out") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"no Dask scheduler answers at {address} ({type(exc).__name__})",
                         "start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or check the "
                         f"address; unset {ENV} to run here") from None


def check(address: str) -> int:
    """Refuse an unreachable scheduler before any work; returns its number of workers."""
    with _client(address) as client:
        workers = len(client.scheduler_info().get("workers", {}))
    if workers == 0:
        raise InputError(f"the Dask scheduler at {address} has no workers",
                         f"start some (`dask worker {address}`), or leave --scheduler out to run here")
    return workers


@contextmanager
def scheduler(address: str | None):
    """Within the block, :func:`._parallel_leiden.run_many` sends its runs to ``address``."""
    token = _CURRENT.set(address)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> str | None:
    return _CURRENT.get()


# -- on the workers ------------------------------------------------------------------------
_IGRAPHS: dict[int, tuple] = {}  # id(adjacency) -> (weak reference, igraph Graph): built once per worker


def _leiden_task(adjacency, weighted: bool, gamma: float, seed: int, n_iterations: int,
                 policy_edges: int | None = None) -> np.ndarray:
    from ..graph.leiden import leiden, to_igraph

    key = id(adjacency)
    cached = _IGRAPHS.get(key)
    if cached is None or cached[0]() is not adjacency:
        for stale in [k for k, (ref, _) in _IGRAPHS.items() if ref() is None]:
            del _IGRAPHS[stale]
        cached = (weakref.ref(adjacency), to_igraph(adjacency, weighted=weighted))
        _IGRAPHS[key] = cached
    return leiden(adjacency, gamma, seed=seed, n_iterations=n_iterations, graph=cached[1],
                  weighted=weighted, policy_edges=policy_edges).astype(np.int32)


# -- on the caller -------------------------------------------------------------------------
def run_on_cluster(address: str, graphs: dict, weighted: dict, tasks: list[tuple], progress_task=None,
                   policy_edges: dict | None = None) -> list[np.ndarray]:
    """``tasks``: (graph id, gamma, seed, n_iterations); labels per task, in order. ``policy_edges``:
    graph id -> the edge count Leiden's iteration tolerance is read from."""
    from distributed import as_completed

    with _client(address) as client:
        shared = {gid: client.scatter(A, broadcast=True, hash=False) for gid, A in graphs.items()}
        policy_edges = policy_edges or {}
        futures = [client.submit(_leiden_task, shared[gid], weighted[gid], gamma, seed, n_iter, policy_edges.get(gid),
                                 pure=False)
                   for gid, gamma, seed, n_iter in tasks]
        position = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(futures)
        for future in as_completed(futures, loop=client.loop):
            results[position[future.key]] = future.result()
            if progress_task is not None:
                progress_task.advance()
        return results
