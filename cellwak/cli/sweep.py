"""``cellwak sweep``: Leiden over a range of resolutions with label-free evidence for each."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._state import emit, workspace


def sweep(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (default: the built-in 'blood').")] = "blood",
    gamma: Annotated[str, typer.Option(help="Resolutions: START:STOP:COUNT (log-spaced) or a list like 0.2,0.5,1.")] = "0.05:3:30",
    seeds: Annotated[int, typer.Option(help="Leiden seeds per resolution (stability across seeds when 2 or more).")] = 1,
    subsamples: Annotated[int, typer.Option(help="Random 80% subsamples per resolution (stability across subsamples).")] = 5,
    k: Annotated[int, typer.Option("--k", "-k", help="Neighbours per cell in the kNN graph.")] = 15,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    rep: Annotated[Optional[str], typer.Option(help="Representation in obsm, or X; default PCA.")] = None,
    n_pcs: Annotated[int, typer.Option(help="PCA components when --rep is not given.")] = 50,
    knn: Annotated[str, typer.Option("--knn", help="kNN search: auto, exact, hnsw.")] = "auto",
    weights: Annotated[str, typer.Option(help="Edge weights: binary, inverse, umap, gaussian, jaccard.")] = "binary",
    n_iterations: Annotated[int, typer.Option(help="Leiden iterations per run (-1: until modularity stops improving).")] = 2,
    rule: Annotated[str, typer.Option(help="Label-free choice: auto (= reproducible), most-stable, silhouette, n2s, plateau.")] = "auto",
    jobs: Annotated[Optional[int], typer.Option(help="Parallel Leiden processes (default: all cores).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda (for the kNN search).")] = "auto",
):
    """Sweep Leiden resolutions; record clusters, modularity, the DEPWAK noise2self loss,
    stability across seeds and subsamples and silhouette for each, and pick one without labels.

    Each resolution's labels go to obs['cellwak_leiden_g{gamma}'] and a catalog row.
    """
    from .. import tl
    from ..tl.cluster import check_params
    from ..tl.sweep import parse_gammas
    from ..device import resolve_device
    from ._common import record_sweep
    from ._progress import RichProgress

    ws = workspace()
    row = ws.dataset(dataset)
    gammas = parse_gammas(gamma)
    check_params(row["n_obs"], 1.0, k, knn_method=knn, weights=weights)
    from ..tl._select import check_rule

    check_rule(rule, seeds, subsamples)
    device = resolve_device(device)
    adata = ws.load(dataset)
    with RichProgress() as progress:
        result = tl.sweep(adata, gammas, k=k, seeds=seeds, subsamples=subsamples, rep=rep, n_pcs=n_pcs, knn_method=knn,
                          weights=weights, n_iterations=n_iterations, rule=rule, seed=seed, device=device, n_jobs=jobs,
                          progress=progress)
    ws.save(dataset, adata)
    rows = record_sweep(ws, dataset, result)
    table = result.table.astype(object).where(result.table.notna(), None)
    out = {"dataset": dataset, "chosen_gamma": result.chosen, "rule": result.rule,
           "rows": table.to_dict(orient="records"), "n2s_knn": result.n2s_knn, "n2s_mean": result.n2s_mean,
           "clustering_ids": [r["id"] for r in rows], "params": result.params, "timings": result.timings}
    emit(out, lambda c: _render(c, out))


def _render(console, out: dict):
    from rich.table import Table

    rows = out["rows"]
    labelled = rows and rows[0].get("ari") is not None
    table = Table(show_edge=False, pad_edge=False, title=f"{out['dataset']}: {len(rows)} resolutions "
                  f"in {out['timings']['total']:.1f} s", title_justify="left")
    cols = ["gamma", "K", "Q", "n2s", "stab/seed", "stab/sub", "silh."]
    cols += ["ARI", "NMI"] if labelled else []
    for c in cols:
        table.add_column(c, justify="right")
    table.add_column("")

    def f(v, digits=3):
        return "-" if v is None else f"{v:.{digits}f}"

    for r in rows:
        cells = [f"{r['gamma']:.3g}", str(r["n_clusters"]), f(r["modularity"]), f(r["n2s_depwak"], 4),
                 f(r["stability_seeds"]), f(r["stability_subsample"]), f(r["silhouette"])]
        if labelled:
            cells += [f(r["ari"]), f(r["nmi"])]
        chosen = r["gamma"] == out["chosen_gamma"]
        table.add_row(*cells, "<- chosen" if chosen else "", style="bold" if chosen else None)
    console.print(table)
    console.print("K clusters, Q modularity, n2s the DEPWAK noise2self loss, stab/seed and stab/sub the mean ARI "
                  "across Leiden seeds and across 80% subsamples, silh. silhouette")
    console.print(f"noise2self reference: kNN kernel without partition {out['n2s_knn']:.4f}, "
                  f"mean predictor {out['n2s_mean']:.4f}")
    console.print(f"chosen gamma {out['chosen_gamma']:g} by the '{out['rule']}' rule (no labels used); "
                  f"labels in obs['cellwak_leiden_g{{gamma}}'], catalog rows #{out['clustering_ids'][0]}-#{out['clustering_ids'][-1]}")
