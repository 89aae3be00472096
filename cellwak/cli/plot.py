"""``cellwak plot KIND``: a figure of a dataset, drawn by R, written to one file."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET
from ..api.plots import KINDS, PlotConfig
from ._options import Dataset
from ._progress import CliProgress
from ._state import emit, home


def plot(
    kind: Annotated[Literal[KINDS], typer.Argument(
        help="embedding: the cells on their UMAP/PCA layout; heatmap: cluster x feature means; enrichment: "
             "conditions per cluster; string: known interactions and cluster co-membership; sweep: how gamma was "
             "chosen; loss: a training run's curves; composition: clusters per batch; montage: typical crops.",
        show_default=False)],
    out: Annotated[str, typer.Option("--out", "-o", help="The figure file: .png, .pdf or .svg (overwritten).",
                                     show_default=False)] = PlotConfig.out,
    dataset: Dataset = DEFAULT_DATASET,
    clustering: Annotated[Optional[int], typer.Option(help="Clustering id (default: the dataset's latest; sweep: the "
                                                           "sweep holding or choosing it).",
                                                      show_default=False)] = PlotConfig.clustering,
    run: Annotated[Optional[int], typer.Option(help="loss: the training run (default: the dataset's latest).",
                                               show_default=False)] = PlotConfig.run,
    color_by: Annotated[Optional[str], typer.Option(
        "--color-by", help="embedding: an obs column or feature (default: the clusters); enrichment: the column "
                           "tested (default: the labels); composition: the batch or sample column.",
        show_default=False)] = PlotConfig.color_by,
    width: Annotated[Optional[float], typer.Option(help="Width in inches (default: sized to the content).",
                                                   show_default=False)] = PlotConfig.width,
    height: Annotated[Optional[float], typer.Option(help="Height in inches (default: sized to the content).",
                                                    show_default=False)] = PlotConfig.height,
    dpi: Annotated[int, typer.Option(help="Resolution of a PNG.")] = PlotConfig.dpi,
    title: Annotated[Optional[str], typer.Option(help="Title (default: the dataset and the clustering or run).",
                                                 show_default=False)] = PlotConfig.title,
):
    """Draw a figure with R (ggplot2, ComplexHeatmap, igraph) into one PNG, PDF or SVG file.
    Needs R and rpy2 (`cellwak doctor` says what is missing); the workspace is only read.
    """
    config = PlotConfig(out=out, clustering=clustering, run=run, color_by=color_by, width=width, height=height,
                        dpi=dpi, title=title)
    with CliProgress() as progress:
        result = api.plot(home(), dataset, kind, config, progress)
    emit(result, lambda c: render(c, result.to_dict()))


def render(console, out: dict) -> None:
    from rich.markup import escape

    size = out["bytes"] / 1024
    console.print(f"wrote {escape(out['path'])}")
    console.print(f"{out['kind']} figure of {escape(out['dataset'])}, {out['format'].upper()}, {size:,.0f} kB, "
                  f"{out['seconds']:.1f} s (R {out['r_mode']}: {out['r_seconds']:.1f} s)", style="dim")
