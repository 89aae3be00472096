"""Clustering operations on a workspace dataset: cluster, sweep and DEWAK, each recorded.

Each loads the dataset under its lock, runs the in-memory tool (:mod:`cellwak.pp`,
:mod:`cellwak.tl`), saves it and records the labels: a sweep's resolutions and the chosen
clustering are written to the catalog in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..device import resolve_device
from ..errors import InputError
from ..progress import NULL
from ._common import Result, editing, open_workspace
from .config import ClusterConfig, DewakConfig, SweepConfig


def _begin(ws, dataset: str, config):
    """Everything checked before any work: the settings, the device, the dataset, k against its
    size. Returns (workspace, catalog row, device)."""
    config.check()
    device = resolve_device(config.device)
    ws = open_workspace(ws)
    row = ws.dataset(dataset)
    if config.k >= row["n_obs"]:
        raise InputError(f"--k {config.k} is not smaller than the number of cells ({row['n_obs']})",
                         f"choose k below {row['n_obs']}")
    return ws, row, device


def _backend_ready(backend: str) -> None:
    """``--backend julia`` / ``cugraph``: Julia found and started now, or cuGraph importable, or
    one line saying how to get it (before any work, so a refusal leaves the workspace unchanged)."""
    if backend == "julia":
        from ..backends.julia import require_julia

        require_julia("--backend julia")
    elif backend == "cugraph":
        from ..graph._cugraph import require

        require("--backend cugraph")


def _scheduler(config) -> tuple[str | None, int]:
    """The Dask scheduler of an operation (the config's, else
    $CELLWAK_DASK_SCHEDULER, else None: here), refused before any work when it does not answer;
    with its number of workers."""
    from ..tl import _distributed

    address = _distributed.resolve(config.scheduler)
    return address, (_distributed.check(address) if address else 0)


def _row(key: str, labels, params: dict, metrics: dict, provenance: dict, seconds, method: str) -> tuple:
    sizes = np.bincount(np.asarray(labels)).tolist()
    return labels, {"method": method, "key": key, "params": params, "n_clusters": len(sizes), "sizes": sizes,
                    "metrics": metrics, "provenance": provenance, "seconds": seconds}


def _sweep_rows(result) -> list[tuple]:
    """One catalog row per swept resolution (``obs['{key}_g{gamma}']``)."""
    from ..tl.sweep import gamma_key

    rows = []
    table = result.table.set_index("gamma")
    key_added = result.params.get("key_added", "cellwak_leiden")
    for g, labels in result.labels.items():
        evidence = {c: (None if v != v else float(v)) for c, v in table.loc[g].items()}  # NaN -> None (bool -> 0/1)
        metrics = {m: evidence.pop(m) for m in ("ari", "nmi") if m in evidence}
        params = {**{k: v for k, v in result.params.items() if k != "gammas"}, "gamma": g, "evidence": evidence,
                  "chosen": g == result.chosen, "rule_threshold": _stability_threshold(result)}
        rows.append(_row(gamma_key(g, key_added), labels, params, metrics, {}, None, "leiden-sweep"))
    return rows


def _stability_threshold(result) -> float | None:
    """The stability threshold of the label-free rule when that rule chose (not another --rule)."""
    from ..tl._resolution import LABEL_FREE_RULES

    evidence = result.evidence or {}
    return evidence.get("threshold") if evidence.get("rule") in LABEL_FREE_RULES else None


def _sweep_table(result) -> list[dict]:
    table = result.table.astype(object).where(result.table.notna(), None)
    return table.to_dict(orient="records")


@dataclass
class ClusterOutcome(Result):
    dataset: str
    clustering_id: int
    key: str
    gamma: float
    gamma_rule: str | None
    k: int
    seed: int
    n_clusters: int
    sizes: list
    metrics: dict
    composition: list
    params: dict
    timings: dict
    label_column: str | None
    sweep: list | None = None            # the swept resolutions' table (gamma='auto')
    sweep_clustering_ids: list = field(default_factory=list)
    evidence: dict | None = None         # gamma='auto': the chosen and runner-up resolutions' stability, the
                                         # threshold, the reason, the grid extensions (tl._resolution.Selection)
    confidence: str | None = None        # gamma='auto': 'high', or 'low' when the choice is fragile
    warnings: list = field(default_factory=list)  # e.g. the grid's edge chosen, images clustered on raw pixels


def cluster(ws, dataset: str, config: ClusterConfig | None = None, progress=NULL) -> ClusterOutcome:
    """Cluster ``dataset`` (representation -> kNN graph -> Leiden at ``config.gamma`` or 'auto'),
    write its keys into the dataset and record it (with every swept resolution for 'auto')."""
    from .. import tl
    from ..io import labelled_mask
    from ..metrics import majority_labels

    from ..tl._distributed import scheduler

    config = config or ClusterConfig()
    ws, row, device = _begin(ws, dataset, config)
    _backend_ready(config.backend)
    address, workers = _scheduler(config)
    with editing(ws, dataset) as adata, scheduler(address):
        result = tl.cluster(adata, gamma=tl.parse_gamma(config.gamma), k=config.k, seed=config.seed, rep=config.rep,
                            n_pcs=config.n_pcs, knn_method=config.knn, weights=config.weights,
                            objective=config.objective, backend=config.backend, n_iterations=config.n_iterations,
                            subsamples=config.subsamples, n_jobs=config.jobs, device=device,
                            auto_gammas=config.auto_gammas, features=config.features, progress=progress)
        if address:
            result.params.update(scheduler=address, dask_workers=workers)
        true, mask = labelled_mask(adata)
        items = _sweep_rows(result.sweep) if result.sweep is not None else []
        items.append(_row("cellwak_leiden", result.labels, result.params, result.metrics, result.provenance,
                          result.timings["total"], "leiden"))
        rows = ws.add_clusterings(dataset, items)  # recorded first: the saved file only mirrors the record
    composition = majority_labels(true, result.labels, mask) if true is not None and mask.any() else []
    if composition:  # the share of each cluster outside the labels (missing or an `unlabeled` value)
        sizes = np.bincount(result.labels, minlength=result.n_clusters)
        outside = np.bincount(result.labels[~mask], minlength=result.n_clusters)
        for c in composition:
            c["unlabelled_share"] = round(float(outside[c["cluster"]] / sizes[c["cluster"]]), 3)
    return ClusterOutcome(
        dataset=dataset, clustering_id=rows[-1]["id"], key="cellwak_leiden", gamma=result.gamma,
        gamma_rule=result.params["gamma_rule"], k=config.k, seed=config.seed, n_clusters=result.n_clusters,
        sizes=result.sizes, metrics=result.metrics, composition=composition, params=result.params,
        timings=result.timings, label_column=row.get("label_key") if result.metrics else None,
        sweep=_sweep_table(result.sweep) if result.sweep is not None else None,
        sweep_clustering_ids=[r["id"] for r in rows[:-1]], evidence=result.params.get("evidence"),
        confidence=(result.params.get("evidence") or {}).get("confidence"), warnings=list(result.warnings))


@dataclass
class SweepOutcome(Result):
    dataset: str
    chosen_gamma: float | None
    rule: str
    rows: list
    n2s_knn: float | None
    n2s_mean: float | None
    clustering_ids: list
    params: dict
    timings: dict
    evidence: dict | None = None         # the chosen and runner-up resolutions' stability, threshold, reason
    confidence: str | None = None        # 'high', or 'low' when the choice is fragile
    warnings: list = field(default_factory=list)


def sweep(ws, dataset: str, config: SweepConfig | None = None, progress=NULL) -> SweepOutcome:
    """Leiden over ``config.gammas`` with label-free evidence for each; every resolution recorded."""
    from ..pp import _neighbors as nb
    from ..tl._leiden import image_warnings, recall_warnings
    from ..tl.sweep import parse_gammas, run_sweep

    from ..tl._distributed import scheduler

    config = config or SweepConfig()
    ws, _, device = _begin(ws, dataset, config)
    _backend_ready(config.backend)
    address, workers = _scheduler(config)
    with editing(ws, dataset) as adata, scheduler(address):
        from .interactions import sweep_scorer  # an external criterion: its files read and checked before any work

        criterion = sweep_scorer(adata, config.criterion)
        ctx = nb.compute(adata, n_neighbors=config.k, n_pcs=None if config.rep is not None else config.n_pcs,
                         use_rep=config.rep, method=config.knn, weights=config.weights, random_state=config.seed,
                         device=device, features=config.features, scheduler=address, progress=progress)
        ctx.params["neighbors_key"] = nb.write(adata, ctx)
        result = run_sweep(adata, ctx, parse_gammas(config.gammas), seeds=config.seeds, subsamples=config.subsamples,
                           n_iterations=config.n_iterations, rule=config.rule, seed=config.seed, n_jobs=config.jobs,
                           backend=config.backend,
                           progress=progress)
        if address:
            result.params.update(scheduler=address, dask_workers=workers)
        warnings = recall_warnings(ctx) + list(result.warnings) + image_warnings(adata, ctx)
        if criterion is not None:  # scored after the label-free choice: extra columns, never used to choose
            criterion.add_columns(adata, result, progress)
        rows = ws.add_clusterings(dataset, _sweep_rows(result))  # recorded first, then the file is saved
    return SweepOutcome(dataset=dataset, chosen_gamma=result.chosen, rule=result.rule, rows=_sweep_table(result),
                        n2s_knn=result.n2s_knn, n2s_mean=result.n2s_mean, clustering_ids=[r["id"] for r in rows],
                        params=result.params, timings=result.timings, evidence=result.evidence or None,
                        confidence=result.confidence, warnings=warnings)


@dataclass
class DewakOutcome(Result):
    dataset: str
    key: str
    d: int
    k: int
    loss: float
    baseline_loss: float
    improvement: float
    n_evaluated: int
    n_knn: int
    search: str
    norm: str
    scaling: str
    d_max: int
    k_max: int
    seed: int
    seconds: float
    timings: dict
    params: dict
    best: list


def dewak(ws, dataset: str, config: DewakConfig | None = None, progress=NULL) -> DewakOutcome:
    """DEWAK on ``dataset``: the (d, k) with the lowest noise2self loss, stored in uns['cellwak_dewak']."""
    from ..tl.dewak import KEY, check_params
    from ..tl.dewak import dewak as run_dewak

    from ..tl._distributed import scheduler

    config = config or DewakConfig()
    config.check()
    ws = open_workspace(ws)
    row = ws.dataset(dataset)
    options = dict(d_max=config.d_max, k_max=config.k_max, search=config.search, norm=config.norm, scaling=config.scaling)
    check_params(row["n_obs"], **options)
    _backend_ready(config.backend)
    address, workers = (None, 0) if config.backend == "julia" else _scheduler(config)
    with editing(ws, dataset) as adata, scheduler(address):
        result = run_dewak(adata, use_rep=config.rep, random_state=config.seed, backend=config.backend,
                           progress=progress, **options)
    if address:
        result.params.update(scheduler=address, dask_workers=workers)
    best = result.table.nsmallest(5, "loss")
    return DewakOutcome(
        dataset=dataset, key=KEY, d=result.d, k=result.k, loss=result.loss, baseline_loss=result.baseline_loss,
        improvement=1.0 - result.loss / result.baseline_loss, n_evaluated=result.n_evaluated, n_knn=result.n_knn,
        search=result.search, norm=config.norm, scaling=config.scaling, d_max=result.params["d_max"],
        k_max=config.k_max, seed=config.seed, seconds=result.timings["total"], timings=result.timings,
        params=result.params,
        best=[{"d": int(r.d), "k": int(r.k), "loss": float(r.loss)} for r in best.itertuples()])
