"""``cellwak markers``: what sets each cluster apart, feature by feature."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.cluster_markers import METHODS, MarkersConfig
from ..api.config import DEFAULT_DATASET
from ._options import Dataset
from ._progress import CliProgress
from ._state import emit, home


def markers(
    dataset: Dataset = DEFAULT_DATASET,
    clustering: Annotated[Optional[int], typer.Option(help="Clustering id (default: the dataset's latest; see "
                                                           "`cellwak clusters list`).",
                                                      show_default=False)] = MarkersConfig.clustering,
    method: Annotated[Literal[METHODS], typer.Option(
        help="wilcoxon: rank-sum test (tie-corrected z); t-test: Welch's t; logreg: one-vs-rest logistic "
             "regression coefficients on standardised features (a seeded 100,000-cell subsample above that)."
    )] = MarkersConfig.method,
    rep: Annotated[Optional[str], typer.Option(help="Features to test: an obsm key (e.g. X_dino); default: the "
                                                    "dataset's features.", show_default=False)] = MarkersConfig.rep,
    top: Annotated[int, typer.Option(help="Markers shown per cluster (all are stored).")] = MarkersConfig.top,
    seed: Annotated[int, typer.Option(help="Seed of the logreg subsample.")] = MarkersConfig.seed,
):
    """Marker features of each cluster against the rest: test statistic, effect, adjusted p-value
    and the share of the cluster's cells above the feature's median.

    Markers are listed as they name the cluster: its most strongly higher feature first, then the others by the size of their score (+ higher in the cluster, - lower). Every feature's
    statistics are stored in the dataset (uns key cellwak_markers, laid out as scanpy's
    rank_genes_groups, so scanpy's plots read them); image datasets also get each cluster's mean
    crop and most typical cells (uns key cellwak_markers_images).
    """
    config = MarkersConfig(clustering=clustering, method=method, rep=rep, top=top, seed=seed)
    with CliProgress() as progress:
        out = api.markers(home(), dataset, config, progress)
    emit(out, lambda c: render(c, out.to_dict()))


def _p(value) -> str:
    if value is None:
        return "-"
    return "<1e-300" if value < 1e-300 else f"{value:.0e}" if value < 1e-3 else f"{value:.3f}"


def _score(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def render(console, out: dict) -> None:
    """Per cluster a compact table (fits 80 columns): feature, score, effect, adjusted p, pts."""
    from rich.markup import escape
    from rich.table import Table

    fitted = out.get("n_fit_cells")
    fit = f", fitted on {fitted:,} cells" if fitted and fitted < out["n_cells"] else ""
    console.print(f"[bold]{escape(out['dataset'])}[/] clustering #{out['clustering_id']}: "
                  f"{len(out['clusters'])} clusters, {out['n_cells']:,} cells, {out['n_features']:,} features ({escape(out['rep'])}); "
                  f"{out['method']}{fit}")
    console.print(f"effect: {escape(out['effect'])}; p: Benjamini-Hochberg; pts: share of the cluster above "
                  "the feature's median; + higher in the cluster, - lower", style="dim")
    for c in out["clusters"]:
        table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1),
                      title=f"cluster {escape(c['cluster'])} ({c['size']:,} cells)", title_justify="left",
                      title_style="bold")
        table.add_column("feature", no_wrap=True, max_width=36, overflow="ellipsis")
        for col in ("score", "effect", "p adj", "pts"):
            table.add_column(col, justify="right", no_wrap=True)
        for m in c["markers"]:
            effect = f"{m['effect']:+.2f}" if m["effect"] is not None else "-"
            table.add_row(escape(f"{m['name']}{m['direction']}"), _score(m["score"]), effect, _p(m["p_adj"]),
                          f"{m['pts']:.2f}")
        console.print(table)
    if out.get("images"):
        console.print(f"mean crops and typical cells of each cluster: uns key {escape(out['images']['key'])}")
    console.print(f"all features stored in uns key {escape(out['key'])} (groups: obs column "
                  f"{escape(out['groupby'])}); scanpy reads it with key='{escape(out['key'])}'")
