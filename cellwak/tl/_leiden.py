"""``leiden``: Leiden clustering of the graph of :func:`cellwak.pp.neighbors`, scanpy-shaped,
at a given resolution or one chosen without labels (``resolution='auto'``).

Writes into ``adata``:
    obs[key_added]                 categorical cluster labels ('0' = the largest cluster)
    uns[key_added]                 {'params': resolution, random_state, n_iterations, objective,
                                    neighbors_key, rule}
    uns['cellwak']['leiden']       provenance: parameters, seed, versions, threads, device, time
With ``resolution='auto'`` also everything :func:`cellwak.tl.sweep` writes (the swept
resolutions of ``resolutions``, ``obs['{key_added}_g{gamma}']``, ``uns['{key_added}_sweep']``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import provenance
from ..choices import LEIDEN_BACKENDS, OBJECTIVES, SWEEP_BACKENDS
from ..errors import InputError
from ..graph.leiden import leiden as leiden_labels
from ..io import labelled_mask
from ..metrics import compare
from ..progress import NULL
from ..pp._neighbors import GraphContext, load
from ._resolution import GRID, N_ITERATIONS, SUBSAMPLES
from .sweep import KEY, SweepResult, parse_gammas, run_sweep

AUTO_GAMMAS = GRID  # the one grid of --gamma auto, sweep and tl.leiden('auto') (cellwak.tl._resolution)


@dataclass
class ClusterResult:
    labels: np.ndarray
    params: dict
    sizes: list[int]
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    sweep: SweepResult | None = None
    warnings: list = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)

    @property
    def gamma(self) -> float:
        return self.params["gamma"]


def parse_gamma(value):
    """'auto' or a positive float (from text or a number)."""
    if str(value).strip().lower() == "auto":
        return "auto"
    try:
        gamma = float(value)
    except (TypeError, ValueError):
        raise InputError(f"--gamma must be a number or 'auto', got {value!r}",
                         "for example --gamma 1.0 or --gamma auto") from None
    if not gamma > 0 or gamma == float("inf"):
        raise InputError(f"--gamma must be > 0 or 'auto', got {value}", "the Leiden resolution is a positive number such as 1.0")
    return gamma


def check_leiden(gamma, *, objective: str = "modularity", backend: str = "igraph", n_iterations: int | None = None,
                 subsamples: int = 5) -> None:
    """Refuse settings that cannot work (one line each), before any computation."""
    parse_gamma(gamma)
    if objective.lower() not in OBJECTIVES:
        raise InputError(f"unknown --objective {objective!r}", f"choose one of {', '.join(OBJECTIVES)}")
    if backend not in LEIDEN_BACKENDS:
        raise InputError(f"unknown --backend {backend!r}", f"choose one of {', '.join(LEIDEN_BACKENDS)}")
    if n_iterations is not None and (n_iterations == 0 or n_iterations < -1):
        raise InputError(f"--n-iterations must be -1 (until stable) or at least 1, got {n_iterations}")
    if objective.lower() in ("rber", "significance", "surprise") and backend != "leidenalg":
        raise InputError(f"the {objective} objective needs --backend leidenalg")
    if backend in ("julia", "cugraph") and objective.lower() != "modularity":
        raise InputError(f"the {'Julia' if backend == 'julia' else 'cuGraph'} Leiden optimises modularity only",
                         "use --objective modularity or another --backend")
    if str(gamma).lower() == "auto":
        if objective.lower() != "modularity" or backend not in SWEEP_BACKENDS:
            raise InputError(f"--gamma auto sweeps modularity resolutions with {', '.join(SWEEP_BACKENDS)}",
                             f"leave --objective at its default and use --backend {' or '.join(SWEEP_BACKENDS)}, "
                             "or give a number for --gamma")
        if subsamples < 1:
            raise InputError("--gamma auto needs --subsamples 1 or more")


def run_leiden(adata, ctx: GraphContext, resolution=1.0, *, key_added: str = KEY, random_state: int = 0,
               n_iterations: int | None = None, objective: str = "modularity", backend: str = "igraph",
               resolutions: str = AUTO_GAMMAS, subsamples: int = SUBSAMPLES, n_jobs: int | None = None,
               progress=NULL) -> ClusterResult:
    """Leiden on the graph of ``ctx``; writes the keys of the module docstring and returns the
    result (labels, sizes, parameters, metrics against the dataset's labels when it has them)."""
    check_leiden(resolution, objective=objective, backend=backend, n_iterations=n_iterations, subsamples=subsamples)
    gamma = parse_gamma(resolution)
    if n_iterations is None:
        n_iterations = N_ITERATIONS  # one policy: a resolution gives the same partition alone and in a sweep
    provenance.seed_everything(random_state)
    t0 = time.perf_counter()
    swept = None
    if gamma == "auto":
        gammas = parse_gammas(resolutions) if isinstance(resolutions, str) else list(resolutions)
        swept = run_sweep(adata, ctx, gammas, key_added=key_added, seeds=1, subsamples=subsamples,
                          n_iterations=n_iterations, rule="auto", seed=random_state, n_jobs=n_jobs,
                          partition_all=False, backend=backend, progress=progress)
        chosen = swept.chosen
        labels = swept.labels[chosen].astype(np.int64)
    else:
        chosen = float(gamma)
        with progress.task(f"Leiden (gamma={chosen:g})", total=1) as task:
            if backend == "julia":  # through the sweep's Julia path: the iteration policy is passed to Julia
                from ._julia_leiden import run_many_julia

                labels = run_many_julia({"g": ctx.graph}, [("g", chosen, random_state, n_iterations)],
                                        {"g": ctx.weighted})[0].astype(np.int64)
            else:
                labels = leiden_labels(ctx.graph, chosen, seed=random_state, n_iterations=n_iterations,
                                       objective=objective, backend=backend, weighted=ctx.weighted)
            task.advance()
    timings = {**ctx.timings, "leiden": time.perf_counter() - t0}
    timings["total"] = sum(v for k, v in timings.items() if k != "total")
    params = {"gamma": chosen, "gamma_rule": swept.rule if swept else None, "seed": int(random_state),
              "n_iterations": int(n_iterations), "objective": objective.lower(), "backend": backend, **ctx.params}
    if backend == "julia":
        from ._julia_leiden import julia_info

        params.update(julia_info())
    elif backend == "cugraph":
        from ..graph._cugraph import require

        params["cugraph_version"] = require()
    warnings = recall_warnings(ctx) + (image_warnings(adata, ctx) if swept is not None else [])
    if swept is not None:
        params["auto_gammas"] = resolutions if isinstance(resolutions, str) else ",".join(f"{g:g}" for g in resolutions)
        params["subsamples"] = subsamples
        warnings = list(swept.warnings) + warnings
        params["evidence"] = {**swept.evidence, "warnings": warnings}
    sizes = np.bincount(labels).tolist()
    true, mask = labelled_mask(adata)
    metrics = compare(true, labels, mask) if true is not None and mask.any() else {}
    record = provenance.record("leiden", params, seed=random_state, device=ctx.params.get("device", "cpu"),
                               seconds=timings["total"])
    adata.obs[key_added] = pd.Categorical(labels.astype(str), categories=[str(i) for i in range(len(sizes))])
    adata.uns[key_added] = {"params": {"resolution": float(chosen), "random_state": int(random_state),
                                       "n_iterations": int(n_iterations), "objective": objective.lower(),
                                       "neighbors_key": ctx.params.get("neighbors_key", "cellwak_neighbors"),
                                       **({"rule": swept.rule} if swept else {})}}
    stored = {k: v for k, v in params.items() if v is not None and k != "evidence"}
    if "evidence" in params:  # as JSON: the evidence holds None (no runner-up) that .h5ad cannot store
        import json

        stored["evidence_json"] = json.dumps(params["evidence"])
    adata.uns.setdefault("cellwak", {})["leiden"] = {**{k: v for k, v in record.items() if v is not None and k != "params"},
                                                     "params": provenance.storable(stored)}
    return ClusterResult(labels=labels, params=params, sizes=sizes, metrics=metrics,
                         timings={k: round(v, 3) for k, v in timings.items()}, provenance=record, sweep=swept,
                         warnings=warnings)


IMAGE_HINT = ("the dataset has images and the graph is built on their raw pixels, where only coarse splits are "
              "reproducible (blood cells: 0.35 of the best resolution's ARI); learn features first with "
              "`cellwak train dino` and cluster them with --rep X_dino (0.69 ARI on blood_pbc28 with --gamma auto)")


RECALL_TARGET = 0.95  # estimated recall@k of an approximate search below which the result says so


def recall_warnings(ctx: GraphContext) -> list[str]:
    """A warning when the approximate kNN search's estimated recall is below ``RECALL_TARGET``."""
    got = ctx.params.get("knn_recall")
    if got is None or got >= RECALL_TARGET:
        return []
    k = ctx.params.get("k", "k")
    return [f"the {ctx.params.get('knn', 'approximate')} neighbour search found only {got:.2f} of each cell's {k} "
            f"nearest neighbours (estimated on 1,000 cells; goal {RECALL_TARGET}): clusters may split or merge where "
            "it missed; --knn exact is exact at any size (slower), --knn kdtree is exact and fast in few dimensions"]


def image_warnings(adata, ctx: GraphContext) -> list[str]:
    """A warning when a dataset with images is clustered on its pixels (no learned representation)."""
    from ..pp.representation import PCA_KEY

    rep = str(ctx.params.get("rep", ctx.rep_info.get("rep", "")))
    on_pixels = rep in ("X", PCA_KEY, "X_pca")
    return [IMAGE_HINT] if "images" in adata.obsm and on_pixels else []


def leiden(adata, resolution=1.0, *, neighbors_key: str | None = None, key_added: str = KEY, random_state: int = 0,
           n_iterations: int | None = None, objective: str = "modularity", backend: str = "igraph",
           resolutions: str = AUTO_GAMMAS, subsamples: int = SUBSAMPLES, n_jobs: int | None = None, copy: bool = False,
           progress=NULL):
    """Leiden clustering of the graph stored by :func:`cellwak.pp.neighbors` (``neighbors_key``;
    scanpy's own ``'neighbors'`` works too).

    resolution    gamma > 0 (larger: more clusters), or ``'auto'``: Leiden at every resolution of
                  ``resolutions`` (extended when the choice lands on an edge) and the end of the
                  stable range: the finest partition reproducible across ``subsamples`` random 80%
                  subsamples, by the rule of :mod:`cellwak.tl._resolution` that ``cellwak cluster
                  --gamma auto`` and ``cellwak sweep`` use too (no labels used). The evidence is in
                  ``uns['cellwak']['leiden']['params']['evidence_json']``.
    n_iterations  None: while modularity still gains 0.1% per iteration (-1), at a given gamma and in the sweep of
                  ``'auto'`` alike; or a number.
    objective     modularity or cpm (igraph); rber, significance, surprise need ``backend='leidenalg'``.
    backend       igraph (default), leidenalg, or julia (CellWAK.jl; needs a julia executable).
    Returns None, or a modified copy with ``copy=True``.
    """
    adata = adata.copy() if copy else adata
    check_leiden(resolution, objective=objective, backend=backend, n_iterations=n_iterations, subsamples=subsamples)
    ctx = load(adata, neighbors_key)
    run_leiden(adata, ctx, resolution, key_added=key_added, random_state=random_state, n_iterations=n_iterations,
               objective=objective, backend=backend, resolutions=resolutions, subsamples=subsamples, n_jobs=n_jobs,
               progress=progress)
    return adata if copy else None
