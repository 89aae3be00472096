"""``cellwak cluster``: Leiden clustering of a dataset at one resolution, or ``--gamma auto``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._state import emit, workspace


def cluster(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (default: the built-in 'blood').")] = "blood",
    gamma: Annotated[str, typer.Option(help="Leiden resolution (> 0; larger gives more clusters), or 'auto' to choose it without labels.")] = "1.0",
    k: Annotated[int, typer.Option("--k", "-k", help="Neighbours per cell in the kNN graph.")] = 15,
    seed: Annotated[int, typer.Option(help="Random seed (PCA, kNN index, Leiden).")] = 0,
    rep: Annotated[Optional[str], typer.Option(help="Representation in obsm (e.g. X_mevae), or X for scaled features; default PCA.")] = None,
    n_pcs: Annotated[int, typer.Option(help="PCA components when --rep is not given.")] = 50,
    knn: Annotated[str, typer.Option("--knn", help="kNN search: auto (exact up to 50,000 cells on CPU, else HNSW), exact, hnsw.")] = "auto",
    weights: Annotated[str, typer.Option(help="Edge weights: binary, inverse, umap, gaussian, jaccard.")] = "binary",
    objective: Annotated[str, typer.Option(help="Leiden quality: modularity or CPM (leidenalg also: rber, significance, surprise).")] = "modularity",
    backend: Annotated[str, typer.Option(help="Leiden implementation: igraph, leidenalg or julia.")] = "igraph",
    n_iterations: Annotated[Optional[int], typer.Option(help="Leiden iterations (-1: until modularity stops improving; default -1, or 2 with --gamma auto).", show_default=False)] = None,
    subsamples: Annotated[int, typer.Option(help="With --gamma auto: subsamples per resolution for stability.")] = 5,
    jobs: Annotated[Optional[int], typer.Option(help="With --gamma auto: parallel Leiden processes (default: all cores).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda (for the kNN search).")] = "auto",
):
    """Cluster cells: representation -> kNN graph -> Leiden at resolution gamma.

    With --gamma auto, resolutions 0.05..3 are swept and the finest partition that stays
    reproducible across subsamples is kept (see `cellwak sweep`). Labels are written to the
    dataset (obs['cellwak_leiden']) and recorded in the catalog; with reference labels, ARI and
    NMI are reported.
    """
    from .. import tl
    from ..io import labelled_mask
    from ..metrics import majority_labels
    from ..tl.cluster import check_params, parse_gamma
    from ..device import resolve_device
    from ._common import record_clustering, record_sweep
    from ._progress import RichProgress

    ws = workspace()
    row = ws.dataset(dataset)
    gamma_value = parse_gamma(gamma)
    check_params(row["n_obs"], gamma_value, k, knn_method=knn, weights=weights, objective=objective, backend=backend)
    if gamma_value == "auto" and subsamples < 1:
        from ..errors import InputError

        raise InputError("--gamma auto needs --subsamples 1 or more")
    device = resolve_device(device)
    adata = ws.load(dataset)
    with RichProgress() as progress:
        result = tl.cluster(adata, gamma=gamma_value, k=k, seed=seed, rep=rep, n_pcs=n_pcs, knn_method=knn,
                            weights=weights, objective=objective, backend=backend, n_iterations=n_iterations,
                            subsamples=subsamples, n_jobs=jobs, device=device, progress=progress)
    true, mask = labelled_mask(adata)
    composition = majority_labels(true, result.labels, mask) if true is not None and mask.any() else []
    ws.save(dataset, adata)
    if result.sweep is not None:
        record_sweep(ws, dataset, result.sweep)
    record = record_clustering(ws, dataset, "cellwak_leiden", result.labels, result.params, result.metrics,
                               result.provenance, result.timings["total"])
    out = {"dataset": dataset, "clustering_id": record["id"], "key": "cellwak_leiden", "gamma": result.gamma,
           "gamma_rule": result.params["gamma_rule"], "k": k, "seed": seed, "n_clusters": result.n_clusters,
           "sizes": result.sizes, "metrics": result.metrics, "composition": composition, "params": result.params,
           "timings": result.timings, "label_column": (row.get("label_key") if result.metrics else None)}
    if result.sweep is not None:
        out["sweep"] = result.sweep.table.to_dict(orient="records")
    emit(out, lambda c: _render(c, out))


def _render(console, out: dict):
    from rich.table import Table

    p = out["params"]
    rep = f"{p['rep']} ({p['n_pcs']} dims)" if p.get("n_pcs") else p["rep"]
    how = f" (chosen by the '{out['gamma_rule']}' rule from {len(out['sweep'])} resolutions)" if out.get("sweep") else ""
    console.print(f"[bold]{out['dataset']}[/]: {out['n_clusters']} clusters at gamma={out['gamma']:g}{how} "
                  f"(k={out['k']}, {p['knn']} kNN, {rep}, seed {out['seed']}) in {out['timings']['total']:.1f} s")
    n = sum(out["sizes"])
    table = Table(show_edge=False, pad_edge=False)
    for col in ("cluster", "cells", "share"):
        table.add_column(col, justify="right")
    by_cluster = {c["cluster"]: c for c in out["composition"]}
    if by_cluster:
        table.add_column(f"majority {out['label_column']}")
    for i, size in enumerate(out["sizes"]):
        cells = [str(i), f"{size:,}", f"{100 * size / n:.1f}%"]
        if by_cluster:
            c = by_cluster.get(i)
            cells.append(f"{c['label']} ({100 * c['share']:.0f}%)" if c else "-")
        table.add_row(*cells)
    console.print(table)
    m = out["metrics"]
    if m:
        console.print(f"vs '{out['label_column']}' ({m['n_labelled']:,} labelled cells): "
                      f"ARI {m['ari']:.3f}  NMI {m['nmi']:.3f}")
    console.print(f"saved as clustering #{out['clustering_id']}; labels in obs['{out['key']}']")
