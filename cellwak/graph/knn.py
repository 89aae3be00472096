"""k-nearest-neighbour search: the one place that decides how cells' neighbours are found.

Exact search (:mod:`cellwak.graph.exact`): blocked matrix products in torch, CPU or CUDA.
k-d tree (:mod:`cellwak.graph.tree`): exact, fast where the data's intrinsic dimension is low
(cytometry). IVF (:mod:`cellwak.graph.ivf`, faiss): approximate, its recall measured on the
index that answers every cell; fast in few dimensions. NN-descent (:mod:`cellwak.graph.descent`,
pynndescent) and HNSW (:mod:`cellwak.graph.approx`), both with the repair of visibly failed lists
(:mod:`cellwak.graph.repair`): approximate, for many cells in many dimensions.

``method="auto"`` (:mod:`cellwak.graph.choose`): exact up to ``EXACT_MAX_CPU`` cells on the CPU
(measured crossover for k = 15: exact 6.5 s at 50,000 cells and 24 s at 100,000 vs HNSW about
10 s) and always on CUDA; above, the k-d tree, IVF, NN-descent or HNSW, whichever is projected fastest
by timing each on the data. An approximate search's recall@k is estimated on a sample of cells
against their exact neighbours and kept with the lists (``KNN.recall``), as is why it was chosen;
HNSW searches every cell with the narrowest beam, and NN-descent builds the shortest lists, that
reach ``MIN_RECALL`` (0.95) on that sample; IVF scans the fewest lists that reach 0.98
(``ivf.RECALL``) on its own sample. NN-descent runs in this process even with a Dask scheduler
(its lists are not answered query by query, so there is nothing to shard); the choice knows the
workers' threads and projects the queries of the tree, IVF and HNSW as shared among them.
:func:`resolve_method` is the rule by size alone, for callers that search many derived
representations (DEWAK) where probing each would cost more than it saves.
"""

from __future__ import annotations

from ..choices import KNN_METHODS
from ..progress import NULL
from .approx import hnsw_knn
from .choose import EXACT_MAX_CPU, MIN_RECALL, choose
from .descent import nndescent_knn
from .exact import KNN, exact_knn, neighbour_distances, recall
from .ivf import RECALL as IVF_RECALL
from .ivf import ivf_knn
from .sharded import shards
from .tree import kdtree_knn

METHODS = KNN_METHODS


def resolve_method(n: int, method: str = "auto", device: str = "cpu") -> str:
    """The search by size alone (no probe): exact up to EXACT_MAX_CPU cells on the CPU and on
    CUDA, HNSW above."""
    if method not in METHODS:
        raise ValueError(f"unknown kNN method {method!r}; choose one of {METHODS}")
    if method != "auto":
        return method
    return "exact" if device.startswith("cuda") or n <= EXACT_MAX_CPU else "hnsw"


def neighbors(X, k: int, *, method: str = "auto", device: str = "cpu", seed: int = 0, progress=NULL,
              estimate_recall: bool = True, scheduler: str | None = None, **options) -> KNN:
    """kNN of the rows of ``X`` (self excluded), by the search ``method`` names or ``auto``
    chooses (module docstring). The result carries ``method``, ``choice`` and ``recall``.
    ``scheduler``: a Dask scheduler address; the queries then run in shards on its workers
    against one copy of the index each (:mod:`.sharded`; the same lists)."""
    if method not in METHODS:
        raise ValueError(f"unknown kNN method {method!r}; choose one of {METHODS}")
    if not 1 <= k < X.shape[0]:
        raise ValueError(f"k must be in [1, n-1], got k={k} for n={X.shape[0]}")
    if scheduler is not None and device.startswith("cuda"):
        scheduler = None  # an exact search asked on this GPU stays on it (the workers' devices are not ours)
    with shards(scheduler, X, progress) as remote:
        with progress.task("kNN method", total=1) as task:
            picked = choose(X, k, method, device, seed=seed, threads=options.get("threads"),
                            remote_threads=remote.threads if remote is not None else None)
            task.advance()
        if picked.method == "exact" and remote is not None:
            knn = remote.exact(k, options.get("block_rows"))
        elif picked.method == "exact":
            knn = exact_knn(X, k, device=device, progress=progress,
                            **{key: v for key, v in options.items() if key in ("block_rows",)})
        elif picked.method == "kdtree":
            knn = kdtree_knn(X, k, tree=picked.tree, threads=options.get("threads"), progress=progress,
                             queries=remote.tree_queries if remote is not None else None)
        elif picked.method == "ivf":
            knn = ivf_knn(X, k, index=picked.index, seed=seed, threads=options.get("threads"), progress=progress,
                          min_recall=IVF_RECALL if estimate_recall else None, nprobe=picked.options.get("nprobe"),
                          queries=remote.ivf_queries if remote is not None else None)
            if picked.options.get("recall") is not None:  # the probe searched its sample in this very index
                knn.recall = picked.options["recall"]
        elif picked.method == "nndescent":
            floor = {"min_recall": MIN_RECALL} if estimate_recall else {}
            knn = nndescent_knn(X, k, seed=seed, threads=options.get("threads"), progress=progress,
                                **{**picked.options, **floor})
        else:
            floor = {"min_recall": MIN_RECALL} if estimate_recall else {}
            knn = hnsw_knn(X, k, seed=seed, progress=progress, **{**picked.options, **floor, **options},
                           queries=remote.hnsw_queries if remote is not None else None)
    evidence = dict(picked.evidence)
    if picked.method == "exact":
        knn.recall = 1.0
    elif picked.method in ("hnsw", "nndescent", "ivf") and estimate_recall:
        evidence.update(knn.choice or {})  # the recall floor's beams or lists (recall measured on 1,000 cells there)
    knn.choice = evidence
    return knn


__all__ = ["EXACT_MAX_CPU", "KNN", "METHODS", "exact_knn", "hnsw_knn", "ivf_knn", "kdtree_knn", "neighbors",
           "nndescent_knn",
           "neighbour_distances", "recall", "resolve_method"]
