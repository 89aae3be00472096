"""``cellwak dewak``: choose the number of PCs d and neighbours k by the noise2self loss."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET, DewakConfig
from ..choices import DEWAK_NORMS, DEWAK_SCALINGS, DEWAK_SEARCHES, KERNEL_BACKENDS
from ._options import Dataset, Scheduler, Seed
from ._progress import CliProgress
from ._state import emit, home


def dewak(
    dataset: Dataset = DEFAULT_DATASET,
    d_max: Annotated[Optional[int], typer.Option("--d-max", help="Largest number of PCs (default: the PCs explaining "
                                                 "99% of the variance, at most 50).", show_default=False)] = DewakConfig.d_max,
    k_max: Annotated[int, typer.Option("--k-max", help="Largest number of neighbours (below the number of cells).")] = DewakConfig.k_max,
    search: Annotated[Literal[DEWAK_SEARCHES], typer.Option(
        help="auto (grid up to 5,000 cells, golden above), grid (every d x every k), coordinate (DeePWAK.jl's windowed "
             "search) or golden (golden-section over d; for large data).")] = DewakConfig.search,
    norm: Annotated[Literal[DEWAK_NORMS], typer.Option(
        help="Kernel normalisation: col (columns sum to 1, DeePWAK) or row (weighted average).")] = DewakConfig.norm,
    scaling: Annotated[Literal[DEWAK_SCALINGS], typer.Option(
        help="sample (each cell / its max |value|, the reference), feature, standard or none.")] = DewakConfig.scaling,
    rep: Annotated[Optional[str], typer.Option(help="Predict this embedding (an obsm key) instead of the features X.")] = DewakConfig.rep,
    seed: Seed = DewakConfig.seed,
    scheduler: Scheduler = DewakConfig.scheduler,
    backend: Annotated[Literal[KERNEL_BACKENDS], typer.Option(
        help="Where the kNN search, the kernel and the loss of each (d, k) run: python (torch) or julia "
             "(CellWAK.jl, exact kNN; needs a julia executable).")] = DewakConfig.backend,
):
    """Choose d (PCs) and k (neighbours) by self-supervised denoising (DEWAK).

    Every cell is predicted from its k nearest neighbours in the first d PCs (a column- or
    row-normalised inverse-distance kernel, never from itself); the (d, k) with the lowest mean
    squared error wins. The result is stored in the dataset (uns key cellwak_dewak).
    """
    config = DewakConfig(d_max=d_max, k_max=k_max, search=search, norm=norm, scaling=scaling, rep=rep, seed=seed,
                         scheduler=scheduler, backend=backend)
    with CliProgress() as progress:
        out = api.dewak(home(), dataset, config, progress)
    emit(out, lambda c: render(c, out.to_dict()))


def render(console, out: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    what = {"grid": f"grid over d 1..{out['d_max']} x k 1..{out['k_max']}",
            "coordinate": "coordinate search (DeePWAK.jl windows)",
            "golden": "golden-section search over d"}[out["search"]]
    console.print(f"[bold]{escape(out['dataset'])}[/]: DEWAK chose [bold]d = {out['d']}[/] PCs and "
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
    console.print(f"saved in the uns key {out['key']} (every evaluated pair under 'evaluated')")
