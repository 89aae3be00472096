"""``cellwak score``: a clustering (or KMeans) against reference labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._state import emit, workspace


def score(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (default: the built-in 'blood').")] = "blood",
    clustering: Annotated[Optional[int], typer.Option(help="Clustering id to score (default: the dataset's latest).")] = None,
    kmeans: Annotated[Optional[int], typer.Option(help="Score KMeans(N, random_state=0) on the representation instead (the IAWG hackathon score).")] = None,
    labels: Annotated[Optional[str], typer.Option(help="Reference labels from a file instead of the dataset's label column.")] = None,
    labels_column: Annotated[Optional[str], typer.Option(help="Column of --labels when it has several.")] = None,
    id_column: Annotated[Optional[str], typer.Option(help="Column of --labels holding cell IDs: rows are matched to cells by ID, in the file's own order.")] = None,
    rep: Annotated[Optional[str], typer.Option(help="With --kmeans: representation in obsm (default PCA of the scaled features).")] = None,
):
    """ARI, NMI, AMI, purity, per-label F1 after Hungarian matching and the contingency table of a
    clustering against reference labels; or, with --kmeans N, the IAWG score (KMeans then NMI
    against the label file in that file's own row order)."""
    import pandas as pd

    from ..errors import InputError
    from ..io import labelled_mask
    from ..metrics import compare, contingency, iawg_score

    ws = workspace()
    ws.dataset(dataset)
    if clustering is not None and kmeans is not None:
        raise InputError("give either --clustering or --kmeans, not both")
    if kmeans is not None and kmeans < 2:
        raise InputError(f"--kmeans needs at least 2 clusters, got {kmeans}")
    adata = ws.load(dataset)
    table = _label_table(labels, labels_column, id_column, adata) if labels else None

    if kmeans is not None:
        from ..pp import representation

        X, rep_info = representation(adata, rep)
        if table is None:
            truth, mask = labelled_mask(adata)
            if truth is None:
                raise InputError(f"dataset {dataset!r} has no labels", "give a label file with --labels")
            table = pd.DataFrame({"cell": adata.obs_names[mask], "label": truth[mask]})
        table = table[table["label"].notna()]
        result = iawg_score(X, table, id_column="cell", label_column="label", feature_ids=adata.obs_names,
                            n_clusters=kmeans)
        out = {"dataset": dataset, "method": "kmeans", "representation": rep_info["rep"], **result}
        emit(out, lambda c: c.print(f"{dataset}: KMeans({kmeans}, random_state=0) on {rep_info['rep']}: "
                                    f"NMI {result['nmi']:.4f} against {result['n_rows']:,} labelled rows"))
        return

    rows = ws.clusterings(dataset)
    if clustering is None:
        if not rows:
            raise InputError(f"dataset {dataset!r} has no clustering yet", "run `cellwak cluster` first, or use --kmeans N")
        clustering = rows[-1]["id"]
    record = ws.clustering(clustering)
    if record["dataset"] != dataset:
        raise InputError(f"clustering #{clustering} belongs to dataset {record['dataset']!r}, not {dataset!r}",
                         f"use --dataset {record['dataset']}")
    predicted = ws.clustering_labels(clustering)
    if table is None:
        truth, mask = labelled_mask(adata)
        if truth is None:
            raise InputError(f"dataset {dataset!r} has no labels", "give a label file with --labels")
    else:
        truth, mask, predicted = _align(table, adata, predicted)
    metrics = compare(truth, predicted, mask, full=True)
    cont = contingency(truth, predicted, mask)
    out = {"dataset": dataset, "clustering_id": clustering, "key": record["key"], "n_clusters": record["n_clusters"],
           **metrics, "contingency": {"clusters": [int(i) for i in cont.index], "labels": [str(c) for c in cont.columns],
                                      "counts": cont.values.tolist()}}
    emit(out, lambda c: _render(c, out, cont))


def _label_table(path: str, column: str | None, id_column: str | None, adata):
    import pandas as pd

    from ..errors import InputError
    from ..io.labels import read_labels_file

    p = Path(path).expanduser()
    if id_column is None:
        series = read_labels_file(p, adata.n_obs, column)
        return pd.DataFrame({"cell": adata.obs_names, "label": series.to_numpy()})
    from ..io.tables import read_obs_table

    frame = read_obs_table(p)
    for col in (id_column, column):
        if col is not None and col not in frame.columns:
            raise InputError(f"--labels file {p} has no column {col!r}", f"its columns: {', '.join(map(str, frame.columns[:12]))}")
    if column is None:
        others = [c for c in frame.columns if c != id_column]
        if len(others) != 1:
            raise InputError(f"--labels file {p} has several label columns", "pick one with --labels-column")
        column = others[0]
    return frame[[id_column, column]].rename(columns={id_column: "cell", column: "label"})


def _align(table, adata, predicted):
    import numpy as np

    from ..errors import InputError

    pos = adata.obs_names.get_indexer(table["cell"].astype(str))
    if (pos < 0).any():
        raise InputError(f"{int((pos < 0).sum())} label rows name cells that are not in the dataset",
                         "check --id-column and that the labels belong to this dataset")
    truth = table["label"].astype(str).to_numpy()
    mask = table["label"].notna().to_numpy()
    return truth, mask, np.asarray(predicted)[pos]


def _render(console, out: dict, cont):
    from rich.table import Table

    console.print(f"[bold]{out['dataset']}[/] clustering #{out['clustering_id']} ({out['n_clusters']} clusters, "
                  f"{out['n_labelled']:,} labelled cells): ARI {out['ari']:.3f}  NMI {out['nmi']:.3f}  AMI {out['ami']:.3f}  "
                  f"purity {out['purity']:.3f}  macro F1 {out['macro_f1']:.3f}")
    table = Table(show_edge=False, pad_edge=False, title="clusters x labels", title_justify="left")
    table.add_column("cluster", justify="right")
    for label in cont.columns:
        table.add_column(str(label)[:14], justify="right")
    for cluster, row in cont.iterrows():
        table.add_row(str(cluster), *[str(v) for v in row.values])
    console.print(table)
    console.print("F1 per label (Hungarian matching): " + ", ".join(f"{k} {v:.2f}" for k, v in out["f1_per_label"].items()))
