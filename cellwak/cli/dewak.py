"""``cellwak dewak``: choose the number of PCs d and neighbours k by the noise2self loss."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._state import emit, workspace


def dewak(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (default: the built-in 'blood').")] = "blood",
    d_max: Annotated[Optional[int], typer.Option("--d-max", help="Largest number of PCs (default: the PCs explaining 99% of the variance, at most 50).")] = None,
    k_max: Annotated[int, typer.Option("--k-max", help="Largest number of neighbours (below the number of cells).")] = 100,
    search: Annotated[str, typer.Option(help="auto, grid (every d x every k), coordinate (DeePWAK.jl's windowed search) or golden (golden-section over d; for large data).")] = "auto",
    norm: Annotated[str, typer.Option(help="Kernel normalisation: col (columns sum to 1, DeePWAK) or row (weighted average).")] = "col",
    scaling: Annotated[str, typer.Option(help="sample (each cell / its max |value|, the reference), feature, standard or none.")] = "sample",
    rep: Annotated[Optional[str], typer.Option(help="Predict this embedding in obsm instead of the features X.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (PCA, approximate neighbours).")] = 0,
):
    """Choose d (PCs) and k (neighbours) by self-supervised denoising (DEWAK).

    Every cell is predicted from its k nearest neighbours in the first d PCs (a column- or
    row-normalised inverse-distance kernel, never from itself); the (d, k) with the lowest mean
    squared error wins. The result is stored in the dataset (uns['cellwak_dewak']).
    """
    from ..tl.dewak import check_options, check_params
    from ..tl.dewak import dewak as run_dewak
    from ._progress import RichProgress

    options = dict(d_max=d_max, k_max=k_max, search=search, norm=norm, scaling=scaling)
    check_options(**options)
    ws = workspace()
    row = ws.dataset(dataset)
    check_params(row["n_obs"], **options)
    adata = ws.load(dataset)
    with RichProgress() as progress:
        result = run_dewak(adata, rep=rep, seed=seed, progress=progress, **options)
    ws.save(dataset, adata)
    best = result.table.nsmallest(5, "loss")
    out = {"dataset": dataset, "key": "cellwak_dewak", "d": result.d, "k": result.k, "loss": result.loss,
           "baseline_loss": result.baseline_loss, "improvement": 1.0 - result.loss / result.baseline_loss,
           "n_evaluated": result.n_evaluated, "n_knn": result.n_knn, "search": result.search, "norm": norm,
           "scaling": scaling, "d_max": result.params["d_max"], "k_max": k_max, "seed": seed,
           "seconds": result.timings["total"], "timings": result.timings, "params": result.params,
           "best": [{"d": int(r.d), "k": int(r.k), "loss": float(r.loss)} for r in best.itertuples()]}
    emit(out, lambda c: _render(c, out))


def _render(console, out: dict):
    from rich.table import Table

    what = {"grid": f"grid over d 1..{out['d_max']} x k 1..{out['k_max']}",
            "coordinate": "coordinate search (DeePWAK.jl windows)",
            "golden": "golden-section search over d"}[out["search"]]
    console.print(f"[bold]{out['dataset']}[/]: DEWAK chose [bold]d = {out['d']}[/] PCs and "
                  f"[bold]k = {out['k']}[/] neighbours ({what}; {out['n_evaluated']:,} (d, k) pairs, "
                  f"{out['n_knn']} neighbour searches, {out['seconds']:.1f} s)")
    console.print(f"noise2self loss {out['loss']:.5f} vs {out['baseline_loss']:.5f} for the mean predictor "
                  f"({100 * out['improvement']:.1f}% lower; {out['norm']}-normalised kernel, "
                  f"{out['scaling']} scaling)")
    table = Table(show_edge=False, pad_edge=False, title="lowest losses", title_justify="left")
    for column in ("d", "k", "loss"):
        table.add_column(column, justify="right")
    for r in out["best"]:
        table.add_row(str(r["d"]), str(r["k"]), f"{r['loss']:.5f}")
    console.print(table)
    console.print(f"saved in uns['{out['key']}'] (every evaluated pair in uns['{out['key']}']['evaluated'])")
