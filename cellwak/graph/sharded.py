"""kNN queries in shards on a Dask cluster's workers, against one index sent to each worker once.

A neighbour search is an index (nothing for the exact blocked search, a k-d tree, an IVF index, an
HNSW graph)
plus one query per cell, and the queries are independent. With a scheduler address
(``cellwak cluster/sweep --scheduler tcp://host:8786``) the caller chooses the search and builds
the index exactly as it would alone (:func:`cellwak.graph.knn.neighbors`), then:

- the cells ``X`` and the index are scattered once, broadcast to every worker;
- the cells are cut into contiguous shards; each worker answers its shards' queries against its
  copy and returns only their (indices, distances);
- the caller stitches the shards in order and finishes as it would alone (HNSW's repair of
  visibly failed lists and the recall estimate run here, on the caller).

Same index, same queries, so the same lists: exact and k-d tree give the indices of the
single-process search (both are exact, ties by index), IVF those of the index built here at the
width chosen here; HNSW gives the answers of the index that
was built here with the same ``ef`` (an index built on several threads differs from run to run,
here or not: ``build_threads=1`` makes it reproducible).

What stays on the caller: the method choice and its probes (told the workers' threads, since
the queries are what they share), the index build, NN-descent, the repair and the graph. Dask is
optional; the caller (:mod:`cellwak.tl._distributed`) has checked the scheduler.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..progress import NULL
from .exact import KNN, exact_knn

SHARDS_PER_THREAD = 4      # a few shards per worker thread: a slow worker does not hold up the end
MIN_SHARD = 2_000          # cells; below, the round trip costs more than the queries
MAX_SHARD = 100_000        # cells; bounds what one shard returns (100,000 x k x 12 bytes)
CONNECT_TIMEOUT = "10s"


def shard_bounds(n: int, threads: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) shards covering 0..n."""
    size = -(-n // max(1, SHARDS_PER_THREAD * threads))
    size = int(min(MAX_SHARD, max(MIN_SHARD, size)))
    return [(start, min(n, start + size)) for start in range(0, n, size)]


# -- on the workers ------------------------------------------------------------------------
def _exact_shard(X, k: int, start: int, stop: int, block_rows):
    knn = exact_knn(X, k, rows=np.arange(start, stop), block_rows=block_rows)
    return knn.indices, knn.distances


def _tree_shard(tree, X, k: int, start: int, stop: int):
    from .tree import query_tree

    idx, dist = query_tree(tree, X, start, stop, k, workers=1)
    return idx, dist.astype(np.float32)


def _hnsw_shard(index, X, k: int, start: int, stop: int):
    from .approx import query_hnsw

    return query_hnsw(index, X, start, stop, k, threads=1)


def _ivf_shard(blob, X, k: int, start: int, stop: int, nprobe: int):
    import faiss

    from .ivf import query

    index = faiss.deserialize_index(blob)  # ~ the index's size in bytes copied: small against a shard's queries
    return query(index, X[start:stop], np.arange(start, stop), k, nprobe, threads=1)


# -- on the caller -------------------------------------------------------------------------
class Shards:
    """One connection to a Dask scheduler and the cells ``X`` scattered to its workers once."""

    def __init__(self, client, X, progress=NULL):
        self.client = client
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.progress = progress
        info = client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info()
        workers = info.get("workers", {})
        self.n_workers = len(workers)
        self.threads = sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1
        self.bounds = shard_bounds(self.X.shape[0], self.threads)
        self._sent = None  # the cells, scattered at the first search (none when NN-descent runs here)

    @property
    def _X(self):
        if self._sent is None:
            self._sent = self._send(self.X, "cells")
        return self._sent

    def _send(self, value, what: str):
        """``value`` to every worker, once (a future the shards' tasks take)."""
        with self.progress.task(f"kNN {what} sent to {self.n_workers} Dask workers", total=1) as task:
            shared = self.client.scatter(value, broadcast=True, hash=False)
            task.advance()
        return shared

    def _run(self, function, shared, k: int, label: str, *extra):
        from distributed import as_completed

        n = self.X.shape[0]
        indices = np.empty((n, k), dtype=np.int64)
        distances = np.empty((n, k), dtype=np.float32)
        futures = {}
        for start, stop in self.bounds:
            args = (*shared, k, start, stop, *extra)
            futures[self.client.submit(function, *args, pure=False)] = (start, stop)
        with self.progress.task(f"kNN search ({label}, k={k}, {len(self.bounds)} shards on "
                                f"{self.n_workers} Dask workers)", total=n) as task:
            for future in as_completed(list(futures), loop=self.client.loop):
                start, stop = futures.pop(future)
                indices[start:stop], distances[start:stop] = future.result()
                task.advance(stop - start)
        return indices, distances

    def exact(self, k: int, block_rows: int | None = None) -> KNN:
        """:func:`exact_knn` of every cell, its queries in shards (the same lists)."""
        indices, distances = self._run(_exact_shard, (self._X,), k, "exact", block_rows)
        return KNN(indices, distances)

    def tree_queries(self, tree, k: int):
        """For :func:`.tree.kdtree_knn` ``queries=``: the tree sent once, queries in shards."""
        shared = self._send(tree, "index (k-d tree)")
        try:
            return self._run(_tree_shard, (shared, self._X), k, "k-d tree")
        finally:
            self.client.cancel(shared)

    def hnsw_queries(self, index, k: int):
        """For :func:`.approx.hnsw_knn` ``queries=``: the index (``ef`` set) sent once, queries in shards."""
        shared = self._send(index, "index (HNSW)")
        try:
            return self._run(_hnsw_shard, (shared, self._X), k, "HNSW")
        finally:
            self.client.cancel(shared)


    def ivf_queries(self, index, nprobe: int, k: int):
        """For :func:`.ivf.ivf_knn` ``queries=``: the index sent once (serialised by faiss),
        queries in shards at width ``nprobe``."""
        import faiss

        shared = self._send(faiss.serialize_index(index), "index (IVF)")
        try:
            return self._run(_ivf_shard, (shared, self._X), k, "IVF", int(nprobe))
        finally:
            self.client.cancel(shared)


def _takes_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


@contextmanager
def shards(address: str | None, X, progress=NULL):
    """A :class:`Shards` on the scheduler at ``address`` for the block, or None without one."""
    if address is None:
        yield None
        return
    from distributed import Client

    with Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False) as client:
        yield Shards(client, X, progress)
