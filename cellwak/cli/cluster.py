"""``cellwak cluster``: Leiden clustering of a dataset at one resolution, or ``--gamma auto``."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET, ClusterConfig
from ..choices import LEIDEN_BACKENDS, OBJECTIVES
from ._options import DEFAULTS, Features, SUBSAMPLES, Dataset, Device, Jobs, K, Scheduler, Knn, NPcs, Rep, Seed, Weights
from ._progress import CliProgress
from ._state import emit, home


def cluster(
    dataset: Dataset = DEFAULT_DATASET,
    gamma: Annotated[str, typer.Option(help="Leiden resolution (> 0; larger gives more clusters), or 'auto' to choose "
                                            "it without labels.")] = str(ClusterConfig.gamma),
    k: K = DEFAULTS["k"],
    seed: Seed = DEFAULTS["seed"],
    rep: Rep = DEFAULTS["rep"],
    n_pcs: NPcs = DEFAULTS["n_pcs"],
    knn: Knn = DEFAULTS["knn"],
    weights: Weights = DEFAULTS["weights"],
    objective: Annotated[Literal[OBJECTIVES], typer.Option(
        help="Leiden quality function (rber, significance and surprise need --backend leidenalg).")] = ClusterConfig.objective,
    backend: Annotated[Literal[LEIDEN_BACKENDS], typer.Option(help="Leiden implementation (--gamma auto: igraph or julia).")] = ClusterConfig.backend,
    n_iterations: Annotated[Optional[int], typer.Option(
        help="Leiden iterations (default -1: while an iteration raises modularity by more than 0.1%, at most 20; at one gamma and in the --gamma auto "
             "sweep alike).", show_default=False)] = ClusterConfig.n_iterations,
    subsamples: Annotated[int, typer.Option(help="With --gamma auto: 80% subsamples per resolution for stability "
                                                 "(the ARI of each and its clusters' Jaccard); above 20,000 cells on a 20,000-cell subset graph, "
                                                 "the choice then checked on the full graph's own subsamples.")] = SUBSAMPLES,
    jobs: Jobs = ClusterConfig.jobs,
    scheduler: Scheduler = None,
    device: Device = DEFAULTS["device"],
    features: Features = DEFAULTS["features"],
):
    """Cluster cells: representation -> kNN graph -> Leiden at resolution gamma.

    With --gamma auto, 30 resolutions from 0.05 to 3 are swept (extended when the choice lands on an
    edge) and the finest one is kept that passes the stability test (subsample ARI near the best)
    and whose every cluster is found again on the subsamples (Jaccard >= 0.6): the same grid, rule
    and Leiden iterations as `cellwak sweep`, so both choose the same gamma. The evidence (stability
    and its spread, the least reproducible cluster, the runner-up, why it won, a confidence flag, the
    most stable coarser partition that also passes) is printed and in --json. Labels are written to the dataset
    (obs column cellwak_leiden) and recorded in the catalog; with reference labels, ARI and NMI are
    reported.
    """
    config = ClusterConfig(gamma=gamma, k=k, seed=seed, rep=rep, n_pcs=n_pcs, knn=knn, weights=weights,
                           objective=objective, backend=backend, n_iterations=n_iterations, subsamples=subsamples,
                           jobs=jobs, scheduler=scheduler, device=device, features=features)
    with CliProgress() as progress:
        out = api.cluster(home(), dataset, config, progress)
    emit(out, lambda c: render(c, out.to_dict()))


def render(console, out: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    p = out["params"]
    rep = f"{p['rep']} ({p['n_pcs']} dims)" if p.get("n_pcs") else p["rep"]
    how = f" (chosen by the '{out['gamma_rule']}' rule from {len(out['sweep'])} resolutions)" if out.get("sweep") else ""
    console.print(f"[bold]{escape(out['dataset'])}[/]: {out['n_clusters']} clusters at gamma={out['gamma']:g}{how} "
                  f"(k={out['k']}, {p['knn']} kNN, {escape(rep)}, seed {out['seed']}) in {out['timings']['total']:.1f} s")
    n = sum(out["sizes"])
    table = Table(show_edge=False, pad_edge=False)
    for col in ("cluster", "cells", "share"):
        table.add_column(col, justify="right")
    by_cluster = {c["cluster"]: c for c in out["composition"]}
    unlabelled = any(c.get("unlabelled_share", 0) > 0 for c in out["composition"])
    if by_cluster:
        table.add_column(f"majority {escape(str(out['label_column']))} (of labelled)")
    if unlabelled:
        table.add_column("unlabelled", justify="right")
    for i, size in enumerate(out["sizes"]):
        cells = [str(i), f"{size:,}", f"{100 * size / n:.1f}%"]
        c = by_cluster.get(i)
        if by_cluster:
            cells.append(escape(f"{c['label']} ({100 * c['share']:.0f}%)") if c else "-")
        if unlabelled:
            cells.append(f"{100 * c['unlabelled_share']:.0f}%" if c else "100%")
        table.add_row(*cells)
    console.print(table)
    m = out["metrics"]
    if m:
        console.print(f"vs '{escape(str(out['label_column']))}' ({m['n_labelled']:,} labelled cells): "
                      f"ARI {m['ari']:.3f}  NMI {m['nmi']:.3f}")
    render_evidence(console, out)
    console.print(f"saved as clustering #{out['clustering_id']}; labels in obs column {out['key']}")


def render_evidence(console, out: dict) -> None:
    """Why the resolution was chosen (``--gamma auto`` and ``sweep``), and the warnings."""
    from rich.markup import escape

    ev = out.get("evidence")
    if ev and ev.get("chosen"):
        c = ev["chosen"]
        sd = f" +/- {c['stability_sd']:.3f}" if c.get("stability_sd") is not None else ""
        flag = "[bold red]low[/]" if out.get("confidence") == "low" else "high"
        jac = (f"; least reproducible cluster: Jaccard {c['cluster_jaccard']:.3f}"
               if c.get("cluster_jaccard") is not None else "")
        console.print(f"evidence: stability {c['stability']:.3f}{sd} over {c['stability_n']} subsamples at gamma "
                      f"{c['gamma']:g} ({c['n_clusters']} clusters){jac}; confidence {flag}")
        full = c.get("full_graph")
        if full:
            verdict = "confirmed" if full["passed"] else "[bold red]not confirmed[/]"
            console.print(f"on the full graph ({ev['full_graph_cells']:,} cells; the evidence above is from a subset "
                          f"graph): stability {full['stability']:.3f}, least reproducible cluster Jaccard "
                          f"{full['cluster_jaccard']:.3f} ({full['n_clusters']} clusters): {verdict}"
                          + (f" after {len(ev['full_graph_checks'])} checks" if len(ev["full_graph_checks"]) > 1 else ""))
        console.print(f"why: {escape(ev['reason'])}")
        r = ev.get("runner_up")
        if r:
            console.print(f"runner-up: gamma {r['gamma']:g} ({r['n_clusters']} clusters), stability {r['stability']:.3f}")
        if ev.get("also"):
            console.print(f"also reproducible: {escape(ev['also'])}")
    for w in out.get("warnings") or []:
        console.print(f"[yellow]warning:[/] {escape(w)}")
