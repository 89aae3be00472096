"""``cellwak cluster``: Leiden clustering of a dataset at one resolution."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._state import emit, workspace


def cluster(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (default: the built-in 'blood').")] = "blood",
    gamma: Annotated[float, typer.Option(help="Leiden resolution (> 0); larger gives more clusters.")] = 1.0,
    k: Annotated[int, typer.Option("--k", "-k", help="Neighbours per cell in the kNN graph.")] = 15,
    seed: Annotated[int, typer.Option(help="Random seed (PCA, Leiden).")] = 0,
    rep: Annotated[Optional[str], typer.Option(help="Representation in obsm (e.g. X_mevae), or X for scaled features; default PCA.")] = None,
    n_pcs: Annotated[int, typer.Option(help="PCA components when --rep is not given.")] = 50,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda (for the kNN search).")] = "auto",
):
    """Cluster cells: representation -> exact kNN graph -> Leiden at resolution gamma.

    Labels are written to the dataset (obs['cellwak_leiden']) and recorded in the catalog.
    With reference labels, ARI and NMI are reported.
    """
    from .. import tl
    from ..io import labelled_mask
    from ..metrics import majority_labels
    from ..tl.cluster import check_params
    from ._common import resolve_device
    from ._progress import RichProgress

    ws = workspace()
    row = ws.dataset(dataset)
    check_params(row["n_obs"], gamma, k)
    device = resolve_device(device)
    adata = ws.load(dataset)
    with RichProgress() as progress:
        result = tl.cluster(adata, gamma=gamma, k=k, seed=seed, rep=rep, n_pcs=n_pcs, device=device,
                            progress=progress)
    true, mask = labelled_mask(adata)
    composition = majority_labels(true, result.labels, mask) if true is not None and mask.any() else []
    ws.save(dataset, adata)
    record = ws.add_clustering(dataset, result.labels, {
        "method": "leiden", "key": "cellwak_leiden", "params": result.params, "n_clusters": result.n_clusters,
        "sizes": result.sizes, "metrics": result.metrics, "provenance": result.provenance,
        "seconds": result.timings["total"]})
    out = {"dataset": dataset, "clustering_id": record["id"], "key": "cellwak_leiden", "gamma": gamma, "k": k,
           "seed": seed, "n_clusters": result.n_clusters, "sizes": result.sizes, "metrics": result.metrics,
           "composition": composition, "params": result.params, "timings": result.timings,
           "label_column": (row.get("label_key") if result.metrics else None)}
    emit(out, lambda c: _render(c, out))


def _render(console, out: dict):
    from rich.table import Table

    p = out["params"]
    rep = f"{p['rep']} ({p['n_pcs']} dims)" if p.get("n_pcs") else p["rep"]
    console.print(f"[bold]{out['dataset']}[/]: {out['n_clusters']} clusters at gamma={out['gamma']:g} "
                  f"(k={out['k']}, {rep}, seed {out['seed']}) in {out['timings']['total']:.1f} s")
    n = sum(out["sizes"])
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("cluster", justify="right")
    table.add_column("cells", justify="right")
    table.add_column("share", justify="right")
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
