"""``cellwak sweep``: Leiden over a range of resolutions with label-free evidence for each."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from .. import api
from ..api.config import DEFAULT_DATASET, SweepConfig
from ..choices import GAMMA_RULES, SWEEP_BACKENDS
from ._options import DEFAULTS, Features, Dataset, Device, Jobs, K, Scheduler, Knn, NPcs, Rep, Seed, Weights
from ._progress import CliProgress
from .cluster import render_evidence
from ._state import emit, home
from .string import MIN_SCORE, Aliases, Condition, Criterion, Info, Links, MinScore, Pairs, render_criterion, sweep_criterion


def sweep(
    dataset: Dataset = DEFAULT_DATASET,
    gamma: Annotated[str, typer.Option(help="Resolutions: START:STOP:COUNT (log-spaced) or a list like 0.2,0.5,1.")] = SweepConfig.gammas,
    seeds: Annotated[int, typer.Option(help="Leiden seeds per resolution (stability across seeds when 2 or more).")] = SweepConfig.seeds,
    subsamples: Annotated[int, typer.Option(help="Random 80% subsamples per resolution (stability across subsamples "
                                                 "and each cluster's Jaccard on them); above 20,000 cells on a 20,000-cell subset graph, the choice "
                                                 "then checked on the full graph's own subsamples.")] = SweepConfig.subsamples,
    k: K = DEFAULTS["k"],
    seed: Seed = DEFAULTS["seed"],
    rep: Rep = DEFAULTS["rep"],
    n_pcs: NPcs = DEFAULTS["n_pcs"],
    knn: Knn = DEFAULTS["knn"],
    weights: Weights = DEFAULTS["weights"],
    n_iterations: Annotated[int, typer.Option(help="Leiden iterations per run (-1: while an iteration raises modularity by more than 0.1%, at most 20).")] = SweepConfig.n_iterations,
    rule: Annotated[Literal[GAMMA_RULES], typer.Option(help="Label-free choice of the resolution (auto: the rule of "
                                                             "`cluster --gamma auto`, grid extended at an edge).")] = SweepConfig.rule,
    jobs: Jobs = SweepConfig.jobs,
    backend: Annotated[Literal[SWEEP_BACKENDS], typer.Option(
        help="Leiden runs: igraph (parallel processes), julia (CellWAK.jl in one Julia process; the same "
             "iteration policy; needs a julia executable) or cugraph (RAPIDS on a GPU, when installed).")] = SweepConfig.backend,
    scheduler: Scheduler = None,
    device: Device = DEFAULTS["device"],
    features: Features = DEFAULTS["features"],
    criterion: Criterion = None,
    condition: Condition = None,
    pairs: Pairs = None,
    links: Links = None,
    info: Info = None,
    aliases: Aliases = None,
    min_score: MinScore = MIN_SCORE,
):
    """Sweep Leiden resolutions; record clusters, modularity, the DEPWAK noise2self loss,
    stability across seeds and subsamples and silhouette for each, and pick one without labels.

    Each resolution's labels go to the obs column cellwak_leiden_g{gamma} and a catalog row.
    With --criterion string --condition COL and --pairs FILE (or --links FILE --info FILE), each
    resolution is also scored by known interactions (extra columns; never used to choose).
    """
    config = SweepConfig(gammas=gamma, seeds=seeds, subsamples=subsamples, k=k, seed=seed, rep=rep, n_pcs=n_pcs,
                         knn=knn, weights=weights, n_iterations=n_iterations, rule=rule, jobs=jobs, scheduler=scheduler, backend=backend, device=device,
                         features=features, criterion=sweep_criterion(criterion, condition, pairs, links, info, aliases, min_score))
    with CliProgress() as progress:
        out = api.sweep(home(), dataset, config, progress)
    emit(out, lambda c: render(c, out.to_dict()))


def render(console, out: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    rows = out["rows"]
    labelled = bool(rows) and rows[0].get("ari") is not None
    table = Table(show_edge=False, pad_edge=False, title=f"{escape(out['dataset'])}: {len(rows)} resolutions "
                  f"in {out['timings']['total']:.1f} s", title_justify="left")
    cols = ["gamma", "K", "Q", "n2s", "stab/seed", "stab/sub", "sd", "clus J", "silh."] + (["ARI", "NMI"] if labelled else [])
    for c in cols:
        table.add_column(c, justify="right")
    table.add_column("")

    def f(v, digits=3):
        return "-" if v is None else f"{v:.{digits}f}"

    for r in rows:
        cells = [f"{r['gamma']:.3g}", str(r["n_clusters"]), f(r["modularity"]), f(r["n2s_depwak"], 4),
                 f(r["stability_seeds"]), f(r["stability_subsample"]), f(r.get("stability_sd")),
                 f(r.get("cluster_jaccard")), f(r["silhouette"])]
        if labelled:
            cells += [f(r["ari"]), f(r["nmi"])]
        chosen = r["gamma"] == out["chosen_gamma"]
        table.add_row(*cells, "<- chosen" if chosen else "", style="bold" if chosen else None)
    console.print(table)
    console.print("K clusters, Q modularity, n2s the DEPWAK noise2self loss, stab/seed and stab/sub the mean ARI "
                  "across Leiden seeds and across 80% subsamples (sd: its spread), clus J the least reproducible "
                  "cluster's Jaccard on the subsamples (of those with 1% of the cells or more), silh. silhouette")
    console.print(f"noise2self reference: kNN kernel without partition {out['n2s_knn']:.4f}, "
                  f"mean predictor {out['n2s_mean']:.4f}")
    chosen = "none" if out["chosen_gamma"] is None else f"{out['chosen_gamma']:g}"
    ids = out["clustering_ids"]
    console.print(f"chosen gamma {chosen} by the '{out['rule']}' rule (no labels used); labels in obs columns "
                  f"cellwak_leiden_g{{gamma}}, catalog rows #{ids[0]}-#{ids[-1]}")
    render_evidence(console, out)
    render_criterion(console, out)
