"""``sweep``: Leiden over a range of resolutions, with label-free evidence for each.

For every resolution gamma the sweep records
    n_clusters, smallest/largest cluster   what the partition looks like
    modularity                             standard modularity at gamma of the partition
    n2s_depwak                             DEPWAK noise2self loss: MSE(X, WAK(G (.) S (.) P) X), G the
                                           directed kNN graph, S inverse distances, P the partition
    n2s_partition                          noise2self loss of the partition alone (leave-one-out cluster means)
    stability_seeds                        mean pairwise ARI of partitions from different Leiden seeds
    stability_subsample                    mean ARI between the partition and partitions of random
                                           subsamples (induced subgraphs), on the shared cells
    stability_sd, stability_n              its standard deviation and number of subsamples (5, up to
                                           15 where the choice is close: :mod:`cellwak.tl._resolution`)
    passed                                 whether the resolution passed the selection rule
    silhouette                             mean silhouette on the representation (seeded subsample)
and, when the dataset has reference labels, ARI/NMI against them (reported, never used to choose).

Scanpy-shaped: the graph comes from :func:`cellwak.pp.neighbors` (``neighbors_key``). Writes
into ``adata`` (``key_added`` defaults to ``cellwak_leiden``): ``obs['{key_added}_g{gamma}']`` per
resolution (categorical, '0' the largest cluster), ``uns['{key_added}_sweep']`` (the table, the
chosen gamma, the rule and ``evidence_json``: the choice's evidence) and ``uns['cellwak']['sweep']``
(provenance).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import provenance
from ..errors import InputError
from ..graph import kernels
from ..io import labelled_mask
from ..metrics import compare, silhouette
from ..progress import NULL
from ..pp._neighbors import GraphContext, load
from ._julia_leiden import SWEEP_BACKENDS
from ._parallel_leiden import run_many
from ._resolution import GRID, GRID_COUNT, MAX_SUBSAMPLES, N_ITERATIONS, SUBSAMPLE_FRACTION, SUBSAMPLES, lattice, select
from ._select import check_rule, choose_gamma


MAX_RESOLUTIONS = 200  # one sweep: each resolution costs (1 + subsamples) Leiden runs


def parse_gammas(spec: str) -> list[float]:
    """``0.05:3:30`` -> 30 values from 0.05 to 3 evenly spaced on a log scale; ``0.2,0.5,1`` -> a list."""
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            lo, hi, count = float(parts[0]), float(parts[1]), int(parts[2])
            if not (0 < lo < hi < math.inf) or count < 2:
                raise ValueError
            if count > MAX_RESOLUTIONS:
                raise InputError(f"{count} resolutions asked for in {spec!r}",
                                 f"sweep at most {MAX_RESOLUTIONS}; for example 0.05:3:30")
            return [float(round(g, 6)) for g in np.geomspace(lo, hi, count)]
        values = [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"cannot read the resolutions {spec!r}",
                         "give START:STOP:COUNT with 0 < START < STOP and COUNT >= 2 (log-spaced), or a list like 0.2,0.5,1") from None
    if not values or any(not 0 < v < math.inf for v in values):
        raise InputError(f"resolutions must be positive finite numbers, got {spec!r}", "for example 0.05:3:30 or 0.2,0.5,1")
    if len(set(values)) > MAX_RESOLUTIONS:
        raise InputError(f"{len(set(values))} resolutions given", f"sweep at most {MAX_RESOLUTIONS}")
    return sorted(set(values))


KEY = "cellwak_leiden"


def gamma_key(gamma: float, key_added: str = KEY) -> str:
    return f"{key_added}_g{gamma:g}"


def sweep_key(key_added: str = KEY) -> str:
    return f"{key_added}_sweep"


@dataclass
class SweepResult:
    table: pd.DataFrame
    labels: dict                     # gamma -> labels (seed 0, full data)
    chosen: float | None
    rule: str
    params: dict
    timings: dict = field(default_factory=dict)
    n2s_knn: float | None = None     # reference: the kNN kernel without any partition
    n2s_mean: float | None = None    # reference: predicting every cell by the mean cell
    evidence: dict = field(default_factory=dict)   # the choice: chosen and runner-up rows, threshold, reason
    confidence: str | None = None    # 'high' | 'low' (fragile choice), None without stability
    warnings: list = field(default_factory=list)


def _pairwise_ari(partitions: list[np.ndarray]) -> float:
    from sklearn.metrics import adjusted_rand_score

    if len(partitions) < 2:
        return float("nan")
    scores = [adjusted_rand_score(a, b) for i, a in enumerate(partitions) for b in partitions[i + 1:]]
    return float(np.mean(scores))


def evaluate_partitions(ctx: GraphContext, gammas, full: dict, stability: pd.DataFrame | None, *, seeds: int, seed: int,
                        progress_task=None) -> pd.DataFrame:
    """The label-free table of a sweep: per resolution, what its full-graph partition looks like
    (NaN where the full graph was not partitioned: ``--gamma auto`` above ``stability_cells``
    cells partitions it only at the chosen resolution) and the selection's stability evidence
    (``stability_subsample`` with its sd and number of subsamples). ``full``: (gamma, seed) ->
    labels. ``progress_task`` advances once per resolution."""
    X = ctx.features
    S = ctx.affinity()
    rows = []
    for gamma in gammas:
        row = {"gamma": gamma}
        labels = full.get((gamma, seed))
        if labels is not None:
            sizes = np.bincount(labels)
            restricted = kernels.restrict_to_partition(S, labels)
            C = kernels.one_hot(labels)
            row.update({
                "n_clusters": int(len(sizes)), "smallest": int(sizes.min()), "largest": int(sizes.max()),
                "modularity": kernels.modularity(ctx.graph, labels, gamma),
                "n2s_depwak": kernels.noise2self_loss(X, kernels.wak(restricted, "col")),
                "n2s_partition": kernels.blockwise_mse(X, lambda Xb: kernels.pwak_apply(C, Xb, "col")),
                "stability_seeds": _pairwise_ari([full[(gamma, seed + s)] for s in range(seeds)]),
                "silhouette": silhouette(ctx.rep, labels, seed=seed)})
        rows.append(row)
        if progress_task is not None:
            progress_task.advance()
    table = pd.DataFrame(rows)
    for col in ("n_clusters", "smallest", "largest", "modularity", "n2s_depwak", "n2s_partition", "stability_seeds",
                "silhouette"):
        if col not in table:
            table[col] = np.nan
    if stability is not None:
        ev = stability.set_index("gamma")
        table["stability_subsample"] = table["gamma"].map(ev["stability"])
        table["stability_sd"] = table["gamma"].map(ev["stability_sd"])
        table["stability_n"] = table["gamma"].map(ev["stability_n"])
        if "cluster_jaccard" in ev:
            table["cluster_jaccard"] = table["gamma"].map(ev["cluster_jaccard"])
        table["passed"] = table["gamma"].map(ev["passed"]).astype(bool)
        if table["n_clusters"].isna().any() or not np.array_equal(table["n_clusters"].to_numpy(), ev.loc[table["gamma"], "n_clusters"].to_numpy()):
            table["stability_clusters"] = table["gamma"].map(ev["n_clusters"])  # measured on a subset graph
    else:
        table["stability_subsample"] = np.nan
        table["cluster_jaccard"] = np.nan
    return table


STABILITY_CELLS = 20_000


def stability_graph(ctx: GraphContext, cells: int, seed: int):
    """The kNN graph of a random subset of ``cells`` cells (built exactly, like the full graph)."""
    from ..graph.build import build_graph
    from ..graph.knn import exact_knn

    rng = np.random.default_rng(seed)
    subset = np.sort(rng.choice(ctx.n, cells, replace=False))
    sub_knn = exact_knn(ctx.rep[subset], ctx.params["k"])
    return build_graph(sub_knn, weights=ctx.params["weights"], symmetrize_how=ctx.params["symmetrize"])


def check_sweep(gammas, *, seeds: int = 1, subsamples: int = SUBSAMPLES, subsample_fraction: float = SUBSAMPLE_FRACTION,
                rule: str = "auto", n_iterations: int = N_ITERATIONS, backend: str = "igraph") -> list[float]:
    """Refuse settings that cannot work (one line each); the sorted resolutions."""
    gammas = sorted(set(float(g) for g in gammas))
    if not gammas or any(not 0 < g < math.inf for g in gammas):
        raise InputError("every resolution must be a positive finite number", "for example --gamma 0.05:3:30")
    if len(gammas) > MAX_RESOLUTIONS:
        raise InputError(f"{len(gammas)} resolutions given", f"sweep at most {MAX_RESOLUTIONS}")
    if seeds < 1 or subsamples < 0:
        raise InputError("--seeds must be at least 1 and --subsamples at least 0")
    if seeds > 100 or subsamples > 100:
        raise InputError(f"--seeds {seeds} and --subsamples {subsamples}: at most 100 each",
                         "5 subsamples already measure stability well (benchmarks/BENCHMARKS.md)")
    if not 0 < subsample_fraction < 1:
        raise InputError(f"the subsample fraction must be between 0 and 1, got {subsample_fraction}")
    if n_iterations == 0 or n_iterations < -1:
        raise InputError(f"--n-iterations must be -1 (until stable) or at least 1, got {n_iterations}")
    if backend not in SWEEP_BACKENDS:
        raise InputError(f"unknown sweep --backend {backend!r}", f"choose one of {', '.join(SWEEP_BACKENDS)}")
    check_rule(rule, seeds, subsamples)
    return gammas


def run_sweep(adata, ctx: GraphContext, gammas, *, key_added: str = KEY, seeds: int = 1, subsamples: int = SUBSAMPLES,
              subsample_fraction: float = SUBSAMPLE_FRACTION, n_iterations: int = N_ITERATIONS, rule: str = "auto",
              seed: int = 0, n_jobs: int | None = None, stability_cells: int | None = None,
              partition_all: bool = True, backend: str = "igraph", progress=NULL) -> SweepResult:
    """The sweep on the graph of ``ctx``; writes its keys into ``adata`` and returns the result.

    The resolution is chosen by :func:`cellwak.tl._resolution.select` (the path every face
    shares): stability across subsamples, measured on the full graph up to ``stability_cells``
    cells and above that on the kNN graph of a random subset of that many cells, the choice then
    confirmed on the full graph (:mod:`cellwak.tl._full_check`). Each
    resolution's partition of the full graph is computed when ``partition_all`` (``sweep``), or
    only at the chosen one above ``stability_cells`` cells (default ``STABILITY_CELLS``; ``--gamma
    auto``: the choice is the same, only the full-graph columns of the other resolutions are left
    empty). ``backend``: the
    Leiden runs in igraph (worker processes) or in Julia (CellWAK.jl, one process; the Julia
    version and transport go into the provenance)."""
    stability_cells = STABILITY_CELLS if stability_cells is None else stability_cells
    gammas = check_sweep(gammas, seeds=seeds, subsamples=subsamples,
                         subsample_fraction=subsample_fraction, rule=rule, n_iterations=n_iterations, backend=backend)
    provenance.seed_everything(seed)
    t0 = time.perf_counter()
    base, graph = "full", ctx.graph
    if subsamples and ctx.n > stability_cells:
        base = "stability"
        with progress.task(f"stability graph ({stability_cells:,} cells)", total=1) as task:
            graph = stability_graph(ctx, stability_cells, seed + 2)
            task.advance()
    t = time.perf_counter()
    selection = None
    if subsamples:
        selection = select(graph, gammas, seed=seed, subsamples=subsamples, fraction=subsample_fraction, base=base,
                           n_jobs=n_jobs, n_iterations=n_iterations, progress=progress, backend=backend,
                           extend=rule == "auto" and gammas == lattice(0, GRID_COUNT - 1),  # a grid the user gave is kept
                           full_graph=ctx.graph if base == "stability" and rule == "auto" else None)
        gammas = sorted(selection.table["gamma"])
    full = {(g, seed): lab for g, lab in selection.labels.items()} if selection and base == "full" else {}
    if selection and selection.full_check:
        full.update({(g, seed): lab for g, lab in selection.full_check.labels.items()})
    wanted = gammas if partition_all or selection is None else [selection.chosen]
    tasks = [("full", g, seed + s, n_iterations) for g in wanted for s in range(seeds) if (g, seed + s) not in full]
    if tasks:
        with progress.task(f"Leiden x {len(tasks)} on the full graph", total=len(tasks)) as task:
            out = run_many({"full": ctx.graph}, tasks, n_jobs=n_jobs, progress_task=task, backend=backend)
        full.update({(g, s): lab.astype(np.int64) for (_, g, s, _), lab in zip(tasks, out)})
    timings = {**ctx.timings, "leiden": time.perf_counter() - t}
    t = time.perf_counter()
    with progress.task("scoring resolutions", total=len(gammas) + 1) as task:
        table = evaluate_partitions(ctx, gammas, full, selection.table if selection else None, seeds=seeds, seed=seed,
                                    progress_task=task)
        X = ctx.features
        n2s_knn = kernels.noise2self_loss(X, kernels.wak(ctx.affinity(), "col"))
        n2s_mean = kernels.blockwise_mse(X, lambda Xb: np.broadcast_to(Xb.mean(axis=0), Xb.shape))
        task.advance()
    timings["scoring"] = time.perf_counter() - t
    if rule == "auto":
        chosen, used_rule = selection.chosen, selection.rule
    else:
        chosen, used_rule = choose_gamma(table, rule)
    true, mask = labelled_mask(adata)
    if true is not None and mask.any():
        scores = [compare(true, full[(g, seed)], mask) if (g, seed) in full else {"ari": np.nan, "nmi": np.nan}
                  for g in table["gamma"]]
        table["ari"] = [s["ari"] for s in scores]
        table["nmi"] = [s["nmi"] for s in scores]
    timings["total"] = time.perf_counter() - t0
    evidence = selection.evidence() if selection else {}
    if evidence and rule != "auto":
        evidence.update(rule=used_rule, reason=f"chosen by the '{used_rule}' rule (asked with --rule)")
    params = {**ctx.params, "gammas": gammas, "seeds": seeds, "subsamples": subsamples, "max_subsamples": MAX_SUBSAMPLES,
              "subsample_fraction": subsample_fraction, "stability_cells": min(ctx.n, stability_cells) if subsamples else 0,
              "n_iterations": n_iterations, "objective": "modularity",
              "backend": backend, "rule": used_rule, "seed": seed, "key_added": key_added}
    if backend == "julia":
        from ._julia_leiden import julia_info

        params.update(julia_info())
    result = SweepResult(table=table, labels={g: full[(g, seed)] for g in gammas if (g, seed) in full}, chosen=chosen,
                         rule=used_rule, params=params, timings={k_: round(v, 3) for k_, v in timings.items()},
                         n2s_knn=n2s_knn, n2s_mean=n2s_mean, evidence=evidence,
                         confidence=evidence.get("confidence"), warnings=list(evidence.get("warnings", [])))
    write_sweep(adata, result, key_added)
    return result


def write_sweep(adata, result: SweepResult, key_added: str = KEY) -> None:
    import json

    for g, lab in result.labels.items():
        n = int(lab.max()) + 1
        adata.obs[gamma_key(g, key_added)] = pd.Categorical(lab.astype(str), categories=[str(i) for i in range(n)])
    adata.uns[sweep_key(key_added)] = {
        "table": {c: result.table[c].to_numpy() for c in result.table.columns},
        "chosen_gamma": float(result.chosen) if result.chosen is not None else float("nan"),
        "rule": result.rule, "n2s_knn": float(result.n2s_knn), "n2s_mean": float(result.n2s_mean),
        "evidence_json": json.dumps(result.evidence),
        "neighbors_key": result.params.get("neighbors_key", "cellwak_neighbors")}
    adata.uns.setdefault("cellwak", {})["sweep"] = provenance.record(
        "sweep", {**result.params, "evidence_json": json.dumps(result.evidence)}, seed=result.params["seed"],
        seconds=result.timings.get("total"))


def sweep(adata, resolutions=GRID, *, neighbors_key: str | None = None, key_added: str = KEY, seeds: int = 1,
          subsamples: int = SUBSAMPLES, subsample_fraction: float = SUBSAMPLE_FRACTION, n_iterations: int = N_ITERATIONS,
          rule: str = "auto", random_state: int = 0, n_jobs: int | None = None, stability_cells: int | None = None,
          backend: str = "igraph", copy: bool = False, progress=NULL):
    """Leiden at every resolution of ``resolutions`` (``START:STOP:COUNT`` log-spaced, a list like
    ``0.2,0.5,1``, or a sequence of numbers) on the graph of :func:`cellwak.pp.neighbors`, with the
    label-free evidence of the module docstring and the resolution chosen by ``rule`` (``auto``:
    :mod:`cellwak.tl._resolution`, the same choice as ``leiden(resolution='auto')``; the grid is
    extended when the choice lands on its edge). ``backend``: igraph or julia (CellWAK.jl's Leiden,
    the same iteration policy). Read the table with :func:`sweep_table`.
    Returns None, or a modified copy with ``copy=True``."""
    adata = adata.copy() if copy else adata
    gammas = parse_gammas(resolutions) if isinstance(resolutions, str) else list(resolutions)
    ctx = load(adata, neighbors_key)
    run_sweep(adata, ctx, gammas, key_added=key_added, seeds=seeds, subsamples=subsamples,
              subsample_fraction=subsample_fraction, n_iterations=n_iterations, rule=rule, seed=random_state,
              n_jobs=n_jobs, stability_cells=stability_cells, backend=backend, progress=progress)
    return adata if copy else None


def sweep_table(adata, key_added: str = KEY) -> pd.DataFrame:
    """The table a sweep (or ``leiden(resolution='auto')``) stored under ``key_added``."""
    key = sweep_key(key_added)
    if key not in adata.uns:
        raise InputError(f"no sweep under uns[{key!r}]", "run cw.tl.sweep(adata) first")
    return pd.DataFrame({c: np.asarray(v) for c, v in adata.uns[key]["table"].items()})
