"""``cluster``: representation -> kNN graph -> Leiden at resolution gamma (or ``auto``).

Writes into ``adata``:
    obs['cellwak_leiden']          categorical cluster labels ('0' = largest cluster)
    obsp['cellwak_distances']      kNN distances (row i: i's k neighbours)
    obsp['cellwak_connectivities'] the undirected graph Leiden ran on
    uns['cellwak_neighbors']       scanpy-style neighbours record (keys of the two matrices, params)
    uns['cellwak_leiden']          {'params': ...}
    uns['cellwak']['cluster']      provenance: parameters, seed, versions, threads, device, time
With ``gamma='auto'`` it also writes everything :func:`cellwak.tl.sweep` writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import provenance
from ..errors import InputError
from ..graph.build import WEIGHTS
from ..graph.knn import METHODS
from ..io import labelled_mask
from ..metrics import compare
from ..progress import NULL
from ._graph_context import build_context, write_graph
from ._leiden import BACKENDS, OBJECTIVES, leiden
from .sweep import SweepResult, parse_gammas, sweep

KEY = "cellwak_leiden"
AUTO_GAMMAS = "0.05:3:20"


@dataclass
class ClusterResult:
    labels: np.ndarray
    params: dict
    sizes: list[int]
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    sweep: SweepResult | None = None

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)

    @property
    def gamma(self) -> float:
        return self.params["gamma"]


def check_params(n_obs: int, gamma, k: int, *, knn_method: str = "auto", weights: str = "binary",
                 objective: str = "modularity", backend: str = "igraph") -> None:
    if gamma != "auto" and not gamma > 0:
        raise InputError(f"--gamma must be > 0 or 'auto', got {gamma}", "the Leiden resolution is a positive number such as 1.0")
    if k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    if k >= n_obs:
        raise InputError(f"--k {k} is not smaller than the number of cells ({n_obs})", f"choose k below {n_obs}")
    if knn_method not in METHODS:
        raise InputError(f"unknown --knn {knn_method!r}", f"choose one of {', '.join(METHODS)}")
    if weights not in WEIGHTS:
        raise InputError(f"unknown --weights {weights!r}", f"choose one of {', '.join(WEIGHTS)}")
    if objective.lower() not in OBJECTIVES:
        raise InputError(f"unknown --objective {objective!r}", f"choose one of {', '.join(OBJECTIVES)}")
    if backend not in BACKENDS:
        raise InputError(f"unknown --backend {backend!r}", f"choose one of {', '.join(BACKENDS)}")
    if gamma == "auto" and (objective.lower() != "modularity" or backend != "igraph"):
        raise InputError("--gamma auto sweeps modularity resolutions with igraph",
                         "leave --objective and --backend at their defaults, or give a number for --gamma")


def parse_gamma(value: str):
    """'auto' or a positive float (as text from the command line)."""
    if str(value).lower() == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        raise InputError(f"--gamma must be a number or 'auto', got {value!r}", "for example --gamma 1.0 or --gamma auto") from None


def cluster(adata, *, gamma=1.0, k: int = 15, seed: int = 0, rep: str | None = None, n_pcs: int = 50,
            knn_method: str = "auto", weights: str = "binary", objective: str = "modularity", backend: str = "igraph",
            n_iterations: int | None = None, key: str = KEY, device: str = "cpu", auto_gammas: str = AUTO_GAMMAS,
            subsamples: int = 5, n_jobs: int | None = None, progress=NULL) -> ClusterResult:
    """Leiden clustering of ``adata`` at resolution ``gamma`` (a number, or ``'auto'``: a sweep
    of ``auto_gammas`` and the label-free ``reproducible`` rule of :mod:`cellwak.tl._select`).

    ``n_iterations``: Leiden iterations; None means until modularity stops improving (-1) at a
    given gamma, and 2 for the sweep of ``'auto'`` (see :func:`cellwak.tl.sweep`)."""
    check_params(adata.n_obs, gamma, k, knn_method=knn_method, weights=weights, objective=objective, backend=backend)
    if n_iterations is None:
        n_iterations = 2 if gamma == "auto" else -1
    provenance.seed_everything(seed)
    t0 = time.perf_counter()
    ctx = build_context(adata, k=k, rep=rep, n_pcs=n_pcs, knn_method=knn_method, weights=weights, seed=seed,
                        device=device, progress=progress)
    timings = dict(ctx.timings)
    swept = None
    t = time.perf_counter()
    if gamma == "auto":
        swept = sweep(adata, parse_gammas(auto_gammas), k=k, seeds=1, subsamples=subsamples, n_iterations=n_iterations,
                      rule="auto", seed=seed, device=device, n_jobs=n_jobs, context=ctx, progress=progress)
        chosen = swept.chosen
        labels = swept.labels[chosen].astype(np.int64)
    else:
        chosen = float(gamma)
        with progress.task(f"Leiden (gamma={chosen:g})", total=1) as task:
            labels = leiden(ctx.graph, chosen, seed=seed, n_iterations=n_iterations, objective=objective,
                            backend=backend, weighted=weights != "binary")
            task.advance()
    timings["leiden"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    params = {"gamma": chosen, "gamma_rule": swept.rule if swept else None, "seed": int(seed),
              "n_iterations": int(n_iterations), "objective": objective.lower(), "backend": backend, **ctx.params}
    if swept is not None:
        params["auto_gammas"] = auto_gammas
        params["subsamples"] = subsamples
    sizes = np.bincount(labels).tolist()
    true, mask = labelled_mask(adata)
    metrics = compare(true, labels, mask) if true is not None and mask.any() else {}
    record = provenance.record("cluster", params, seed=seed, device=device, seconds=timings["total"])

    write_graph(adata, ctx)
    adata.obs[key] = pd.Categorical(labels.astype(str), categories=[str(i) for i in range(len(sizes))])
    adata.uns[key] = {"params": {"resolution": float(chosen), "random_state": int(seed), "n_iterations": int(n_iterations),
                                 "objective": objective.lower(), "neighbors_key": "cellwak_neighbors"}}
    adata.uns.setdefault("cellwak", {})["cluster"] = {k_: v for k_, v in record.items() if v is not None}
    adata.uns["cellwak"]["cluster"]["params"] = {k_: v for k_, v in params.items() if v is not None}
    return ClusterResult(labels=labels, params=params, sizes=sizes, metrics=metrics,
                         timings={k_: round(v, 3) for k_, v in timings.items()}, provenance=record, sweep=swept)
