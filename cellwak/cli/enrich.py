"""``cellwak enrich``: which conditions (or samples, labels) make each cluster."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET
from ..api.enrichment import EnrichConfig
from ._options import Dataset
from ._progress import CliProgress
from ._state import emit, home

SHOWN = 6   # enriched values printed per cluster (--json has them all)


def enrich(
    by: Annotated[str, typer.Option("--by", help="obs column to test: a condition, perturbed gene, sample or label.",
                                    show_default=False)],
    dataset: Dataset = DEFAULT_DATASET,
    clustering: Annotated[Optional[int], typer.Option(help="Clustering id (default: the dataset's latest).",
                                                      show_default=False)] = EnrichConfig.clustering,
    fdr: Annotated[float, typer.Option(help="Largest Benjamini-Hochberg FDR of an enriched value shown.")] = EnrichConfig.fdr,
):
    """Which values of an obs column each cluster over-represents: for every cluster and value a
    hypergeometric test (more of the value's cells in the cluster than chance), the log2 odds
    ratio and the FDR over all tests. Prints each cluster's enriched values by FDR; the full table
    (every cluster and value) is stored in uns cellwak_enrichment and given by --json.
    """
    config = EnrichConfig(by=by, clustering=clustering, fdr=fdr)
    with CliProgress() as progress:
        out = api.enrich(home(), dataset, config, progress)
    emit(out, lambda c: render(c, out.to_dict()))


def _fdr(v: float) -> str:
    return f"{v:.2f}" if v >= 0.01 else f"{v:.0e}"


def _odds(log2: float) -> str:
    v = 2 ** log2
    return f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def render(console, out: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(escape(f"{out['dataset']} clustering #{out['clustering_id']}: {out['n_clusters']} clusters, "
                         f"{out['n_cells']:,} cells, by {out['by']} ({out['n_values']} values)"))
    console.print(f"{out['n_significant']} enriched pairs (cluster, value) at FDR <= {out['fdr']:g}")
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("cluster", justify="right", no_wrap=True)
    table.add_column("cells", justify="right", no_wrap=True)
    table.add_column("enriched: value in cluster/all (odds ratio, FDR)", overflow="fold")
    for c in out["clusters"]:
        items = [f"{escape(r['value'])} {r['count']}/{r['value_size']} (x{_odds(r['log2_odds_ratio'])}, "
                 f"{_fdr(r['fdr'])})" for r in c["enriched"][:SHOWN]]
        more = len(c["enriched"]) - SHOWN
        text = "; ".join(items) + (f"; and {more} more" if more > 0 else "") if items else "-"
        table.add_row(escape(str(c["cluster"])), f"{c['cells']:,}", text)
    console.print(table)
