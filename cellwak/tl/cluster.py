"""``cluster``: representation -> exact kNN graph -> Leiden at resolution gamma.

Writes into ``adata``:
    obs['cellwak_leiden']          categorical cluster labels ('0' = largest cluster)
    obsp['cellwak_distances']      kNN distances (row i: i's k neighbours)
    obsp['cellwak_connectivities'] the undirected graph Leiden ran on
    uns['cellwak_neighbors']       scanpy-style neighbours record (keys of the two matrices, params)
    uns['cellwak_leiden']          {'params': ...}
    uns['cellwak']['cluster']      provenance: parameters, seed, versions, threads, device, time
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import provenance
from ..errors import InputError
from ..graph import distance_matrix, exact_knn, knn_graph
from ..io import labelled_mask
from ..metrics import compare
from ..pp import representation
from ..progress import NULL
from ._leiden import leiden

KEY = "cellwak_leiden"


@dataclass
class ClusterResult:
    labels: np.ndarray
    params: dict
    sizes: list[int]
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)


def check_params(n_obs: int, gamma: float, k: int) -> None:
    if not gamma > 0:
        raise InputError(f"--gamma must be > 0, got {gamma}", "the Leiden resolution is a positive number such as 1.0")
    if k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    if k >= n_obs:
        raise InputError(f"--k {k} is not smaller than the number of cells ({n_obs})", f"choose k below {n_obs}")


def cluster(adata, *, gamma: float = 1.0, k: int = 15, seed: int = 0, rep: str | None = None, n_pcs: int = 50,
            n_iterations: int = -1, key: str = KEY, device: str = "cpu", progress=NULL) -> ClusterResult:
    """Leiden clustering of ``adata`` at resolution ``gamma`` on an exact kNN graph."""
    check_params(adata.n_obs, gamma, k)
    provenance.seed_everything(seed)
    timings = {}
    t0 = time.perf_counter()
    with progress.task("representation", total=1) as task:
        X, rep_info = representation(adata, rep, n_pcs, seed)
        task.advance()
    timings["representation"] = time.perf_counter() - t0

    t = time.perf_counter()
    knn = exact_knn(X, k, device=device, progress=progress)
    timings["knn"] = time.perf_counter() - t

    t = time.perf_counter()
    with progress.task(f"Leiden (gamma={gamma:g})", total=1) as task:
        graph = knn_graph(knn)
        labels = leiden(graph, gamma, seed=seed, n_iterations=n_iterations)
        task.advance()
    timings["leiden"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0

    params = {"gamma": float(gamma), "k": int(k), "seed": int(seed), "n_iterations": int(n_iterations),
              "objective": "modularity", "backend": "igraph", "knn": "exact", "graph": "union, unweighted",
              **rep_info}
    sizes = np.bincount(labels).tolist()
    true, mask = labelled_mask(adata)
    metrics = compare(true, labels, mask) if true is not None and mask.any() else {}
    record = provenance.record("cluster", params, seed=seed, device=device, seconds=timings["total"])

    adata.obs[key] = pd.Categorical(labels.astype(str), categories=[str(i) for i in range(len(sizes))])
    adata.obsp["cellwak_distances"] = distance_matrix(knn)
    adata.obsp["cellwak_connectivities"] = graph
    adata.uns["cellwak_neighbors"] = {"connectivities_key": "cellwak_connectivities",
                                      "distances_key": "cellwak_distances",
                                      "params": {"n_neighbors": int(k), "method": "exact", "metric": "euclidean",
                                                 "use_rep": rep_info["rep"]}}
    adata.uns[key] = {"params": {"resolution": float(gamma), "random_state": int(seed),
                                 "n_iterations": int(n_iterations), "neighbors_key": "cellwak_neighbors"}}
    adata.uns.setdefault("cellwak", {})["cluster"] = record
    return ClusterResult(labels=labels, params=params, sizes=sizes, metrics=metrics,
                         timings={k_: round(v, 3) for k_, v in timings.items()}, provenance=record)
