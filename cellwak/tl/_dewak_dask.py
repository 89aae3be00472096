"""DEWAK's (d, k) evaluations on a Dask cluster (``cellwak dewak --scheduler tcp://host:8786``).

An evaluation of the search is L(d, ks): one neighbour search in the first d PCs and the losses
of every asked k from it (:class:`._dewak_eval.LossTable`). With a scheduler, the features X and
the PCs are scattered once (broadcast) and each worker keeps its own :class:`LossTable` over
them, so an evaluation is the code the single-process search runs, on the same arrays: the same
neighbour lists (exact, k-d tree, or HNSW built on one thread with the seed), the same losses
(blocks of cells summed in the same order whatever the thread count), the same chosen (d, k).

Which evaluations run at once is the search's: the grid sends every d together, the coordinate
search the d-window of each step; the golden-section search is sequential by nature (each d
depends on the last), so there a cluster only moves the work off this machine. Every d goes to
one worker (d modulo the workers) and only there: a later request at a d already searched reuses
that worker's neighbour lists as the single-process cache does. The restriction is strict, since
Dask's work stealing would otherwise move a task to an idle worker that has to search the
neighbours of d again (seen in CI: 12 searches where one process runs 10); in exchange, a d whose
worker has left the cluster is placed again on a live one (checked every POLL_SECONDS while
evaluations are pending), so a lost worker costs its searches, never a hang.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid

import numpy as np

from ..progress import NULL
from ._dewak_eval import LossTable
from ._dewak_knn import resolve_knn_method
from ._distributed import _client, current

POLL_SECONDS = 2.0  # how often pending evaluations look for workers that left the cluster


def open_table(X, embedding, k_max: int, *, norm: str = "col", knn_method: str = "auto", seed: int = 0,
               progress=NULL) -> LossTable:
    """A :class:`LossTable` here, or a :class:`RemoteLossTable` inside :func:`._distributed.scheduler`
    (close it when the search is done)."""
    address = current()
    if address is None:
        return LossTable(X, embedding, k_max, norm=norm, knn_method=knn_method, seed=seed, progress=progress)
    return RemoteLossTable(address, X, embedding, k_max, norm=norm, knn_method=knn_method, seed=seed)


# -- on the workers ------------------------------------------------------------------------
_TABLES: dict[str, tuple[LossTable, threading.Lock]] = {}
_TABLES_LOCK = threading.Lock()


def _evaluate(token: str, X, embedding, settings: dict, d: int, ks: list[int]):
    """L(d, ks) on this worker's table (made on first use); with what it cost."""
    import torch
    from distributed import get_worker

    with _TABLES_LOCK:
        if token not in _TABLES:
            _TABLES[token] = (LossTable(X, embedding, **settings), threading.Lock())
        table, lock = _TABLES[token]
    with lock:  # one evaluation at a time per table: its cache and torch's thread count are shared
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(get_worker().state.nthreads)))
        try:
            searches, knn_s, loss_s = table.n_knn, table.seconds["knn"], table.seconds["loss"]
            values = table.losses(d, ks)
        finally:
            torch.set_num_threads(threads)
        searched = table.n_knn > searches
        return (values, searched, table.repaired.get(d, 0) if searched else None,
                table.seconds["knn"] - knn_s, table.seconds["loss"] - loss_s)


def _release(token: str) -> None:
    with _TABLES_LOCK:
        _TABLES.pop(token, None)


# -- on the caller -------------------------------------------------------------------------
class RemoteLossTable(LossTable):
    """A :class:`LossTable` whose evaluations run on the workers of the scheduler at ``address``;
    the values, the search bookkeeping (searches run, cells repaired, seconds) come back here."""

    def __init__(self, address: str, X, embedding, k_max: int, *, norm: str = "col", knn_method: str = "auto",
                 seed: int = 0):
        n = X.shape[0]
        self.k_max, self.norm, self.seed = int(k_max), norm, seed
        self.knn_method = resolve_knn_method(n, knn_method)
        self.values: dict[tuple[int, int], float] = {}
        self.n_knn = 0
        self.repaired: dict[int, int] = {}
        self.seconds = {"knn": 0.0, "loss": 0.0}
        self._d_available = embedding.shape[1]
        self.token = f"dewak-{uuid.uuid4().hex}"
        self.settings = {"k_max": self.k_max, "norm": norm, "knn_method": knn_method, "seed": seed}
        self.client = _client(address)
        try:
            self.workers = self._live_workers()
            self.placed: dict[int, str] = {}  # d -> the worker holding its neighbour lists
            self._X = self.client.scatter(np.ascontiguousarray(X, dtype=np.float32), broadcast=True, hash=False)
            self._embedding = self.client.scatter(np.asarray(embedding, dtype=np.float32), broadcast=True, hash=False)
        except BaseException:
            self.client.close()
            raise
        self.remote_seconds = 0.0   # wall time waiting on the workers

    @property
    def d_available(self) -> int:
        return self._d_available

    def neighbour_lists(self, d: int):
        raise NotImplementedError("a remote table's neighbour lists stay on the worker that searched them")

    def _live_workers(self) -> list[str]:
        return sorted(self.client.scheduler_info(**_all_workers(self.client)).get("workers", {}))

    def _worker_for(self, d: int) -> str | None:
        """The worker that searched d's neighbours, or d's place among the live workers."""
        if not self.workers:
            return None  # no worker yet: the task waits for the first one, wherever it is
        if self.placed.get(d) not in self.workers:
            self.placed[d] = self.workers[d % len(self.workers)]
        return self.placed[d]

    def _submit(self, d: int, ks: list[int], finished: queue.Queue):
        worker = self._worker_for(d)
        future = self.client.submit(_evaluate, self.token, self._X, self._embedding, self.settings, d, ks,
                                    pure=False, workers=[worker] if worker else None, allow_other_workers=False)
        future.add_done_callback(finished.put)
        return future

    def _place_again(self, pending: dict, finished: queue.Queue) -> None:
        """Resubmit the pending evaluations whose worker has left the cluster (to a live one: with
        no worker left they wait where they are, for Dask to get one)."""
        self.workers = self._live_workers()
        if not self.workers:
            return
        for future, (d, missing) in list(pending.items()):
            if self.placed.get(d) is not None and self.placed[d] not in self.workers and not future.done():
                future.cancel()
                del pending[future]
                pending[self._submit(d, missing, finished)] = (d, missing)

    def _record(self, d: int, ks: list[int], outcome) -> None:
        values, searched, repaired, knn_s, loss_s = outcome
        if searched:
            self.n_knn += 1
            self.repaired[d] = int(repaired)
        self.seconds["knn"] += knn_s
        self.seconds["loss"] += loss_s
        self.values.update({(d, k): float(v) for k, v in zip(ks, values)})

    def losses(self, d: int, ks) -> np.ndarray:
        ks = [int(k) for k in ks]
        self.evaluate_many([(d, ks)])
        return np.array([self.values[(d, k)] for k in ks])

    def evaluate_many(self, requests, on_done=None) -> None:
        finished: queue.Queue = queue.Queue()  # futures, as the client's callback thread sees them end
        self.workers = self._live_workers()
        pending, done = {}, 0
        for d, ks in requests:
            missing = sorted({int(k) for k in ks if (int(d), int(k)) not in self.values})
            if missing:
                pending[self._submit(int(d), missing, finished)] = (int(d), missing)
            else:
                done += 1
        t = time.perf_counter()
        for _ in range(done):
            if on_done is not None:
                on_done()
        while pending:
            try:
                future = finished.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self._place_again(pending, finished)
                continue
            if future not in pending:  # one cancelled by _place_again
                continue
            d, missing = pending.pop(future)
            self._record(d, missing, future.result())
            if on_done is not None:
                on_done()
        self.remote_seconds += time.perf_counter() - t

    def close(self) -> None:
        """Drop the workers' tables and the scattered data; disconnect."""
        try:
            self.client.run(_release, self.token)
        finally:
            self.client.close()


def _all_workers(client) -> dict:
    """scheduler_info lists only 5 workers unless asked for all (distributed >= 2025)."""
    import inspect

    return {"n_workers": -1} if "n_workers" in inspect.signature(client.scheduler_info).parameters else {}
