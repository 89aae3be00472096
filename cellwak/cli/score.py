"""``cellwak score``: a clustering (or KMeans) against reference labels."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET, ScoreConfig
from ._options import Dataset
from ._state import emit, home


def score(
    dataset: Dataset = DEFAULT_DATASET,
    clustering: Annotated[Optional[int], typer.Option(help="Clustering id to score (default: the dataset's latest).",
                                                      show_default=False)] = ScoreConfig.clustering,
    kmeans: Annotated[Optional[int], typer.Option(help="Score KMeans(N, random_state=0) on the representation instead "
                                                       "(the IAWG hackathon score).", show_default=False)] = ScoreConfig.kmeans,
    labels: Annotated[Optional[str], typer.Option(help="Reference labels from a file instead of the dataset's label column.",
                                                  show_default=False)] = ScoreConfig.labels,
    labels_column: Annotated[Optional[str], typer.Option(help="Column of --labels when it has several.",
                                                         show_default=False)] = ScoreConfig.labels_column,
    id_column: Annotated[Optional[str], typer.Option(help="Column of --labels holding cell IDs: rows are matched to "
                                                          "cells by ID, in the file's own order.",
                                                     show_default=False)] = ScoreConfig.id_column,
    rep: Annotated[Optional[str], typer.Option(help="With --kmeans: representation in obsm (default PCA of the scaled "
                                                    "features).", show_default=False)] = ScoreConfig.rep,
):
    """ARI, NMI, AMI, purity, per-label F1 after Hungarian matching and the contingency table of a
    clustering against reference labels; or, with --kmeans N, the IAWG score (KMeans then NMI
    against the label file in that file's own row order)."""
    config = ScoreConfig(clustering=clustering, kmeans=kmeans, labels=labels, labels_column=labels_column,
                         id_column=id_column, rep=rep)
    out = api.score(home(), dataset, config)
    emit(out, lambda c: render(c, out.to_dict()))


def render(console, out: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    if out["method"] == "kmeans":
        console.print(f"{escape(out['dataset'])}: KMeans({out['n_clusters']}, random_state=0) on "
                      f"{escape(out['representation'])}: NMI {out['nmi']:.4f} against {out['n_rows']:,} labelled rows")
        return
    console.print(f"[bold]{escape(out['dataset'])}[/] clustering #{out['clustering_id']} ({out['n_clusters']} clusters, "
                  f"{out['n_labelled']:,} labelled cells): ARI {out['ari']:.3f}  NMI {out['nmi']:.3f}  "
                  f"AMI {out['ami']:.3f}  purity {out['purity']:.3f}  macro F1 {out['macro_f1']:.3f}")
    cont = out["contingency"]
    table = Table(show_edge=False, pad_edge=False, title="clusters x labels", title_justify="left")
    table.add_column("cluster", justify="right")
    for label in cont["labels"]:
        table.add_column(escape(str(label)[:14]), justify="right")
    for cluster, counts in zip(cont["clusters"], cont["counts"]):
        table.add_row(str(cluster), *[str(v) for v in counts])
    console.print(table)
    console.print("F1 per label (Hungarian matching): "
                  + escape(", ".join(f"{k} {v:.2f}" for k, v in out["f1_per_label"].items())))
