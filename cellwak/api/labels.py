"""Operations against reference labels: score a clustering, train per-label classifiers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, short_list
from ..progress import NULL
from ._common import Result, editing, open_workspace, recorded_clustering
from .config import ClassifyConfig, ScoreConfig


def _label_table(path: str, column: str | None, id_column: str | None, adata):
    """A label file as a (cell, label) table: by row order, or matched on ``id_column``."""
    import pandas as pd

    from ..io.labels import read_labels_file
    from ..io.tables import read_obs_table

    p = Path(path).expanduser()
    if id_column is None:
        series = read_labels_file(p, adata.n_obs, column)
        return pd.DataFrame({"cell": adata.obs_names, "label": series.to_numpy()})
    frame = read_obs_table(p)
    for col in (id_column, column):
        if col is not None and col not in frame.columns:
            raise InputError(f"--labels file {p} has no column {col!r}", f"its columns: {short_list(frame.columns)}")
    if column is None:
        others = [c for c in frame.columns if c != id_column]
        if len(others) != 1:
            raise InputError(f"--labels file {p} has several label columns", "pick one with --labels-column")
        column = others[0]
    return frame[[id_column, column]].rename(columns={id_column: "cell", column: "label"})


def _align(table, adata, predicted):
    pos = adata.obs_names.get_indexer(table["cell"].astype(str))
    if (pos < 0).any():
        raise InputError(f"{int((pos < 0).sum())} label rows name cells that are not in the dataset",
                         "check --id-column and that the labels belong to this dataset")
    truth = table["label"].astype(str).to_numpy()
    mask = table["label"].notna().to_numpy()
    return truth, mask, np.asarray(predicted)[pos]


@dataclass
class ScoreOutcome(Result):
    dataset: str
    method: str                          # "clustering" or "kmeans"
    metrics: dict
    clustering_id: int | None = None
    key: str | None = None
    n_clusters: int | None = None
    representation: str | None = None

    def to_dict(self) -> dict:
        out = super().to_dict()
        metrics = out.pop("metrics")
        return {**out, **metrics}  # flat, as the first contract of `cellwak score --json`


def score(ws, dataset: str, config: ScoreConfig | None = None) -> ScoreOutcome:
    """A recorded clustering (default: the dataset's latest) or KMeans on a representation against
    the dataset's labels or a label file. Writes nothing."""
    from ..io import labelled_mask
    from ..tl._score import score_labels

    config = config or ScoreConfig()
    config.check()
    ws = open_workspace(ws)
    ws.dataset(dataset)
    if config.kmeans is None:
        record = recorded_clustering(ws, dataset, config.clustering, alternative=", or use --kmeans N")
    adata = ws.load(dataset)
    table = _label_table(config.labels, config.labels_column, config.id_column, adata) if config.labels else None
    if config.kmeans is not None:
        import pandas as pd

        from ..metrics import iawg_score
        from ..pp import representation

        X, rep_info = representation(adata, config.rep)
        if table is None:
            truth, mask = labelled_mask(adata)
            if truth is None:
                raise InputError(f"dataset {dataset!r} has no labels", "give a label file with --labels")
            table = pd.DataFrame({"cell": adata.obs_names[mask], "label": truth[mask]})
        table = table[table["label"].notna()]
        result = iawg_score(X, table, id_column="cell", label_column="label", feature_ids=adata.obs_names,
                            n_clusters=config.kmeans)
        return ScoreOutcome(dataset=dataset, method="kmeans", metrics=result, representation=rep_info["rep"],
                            n_clusters=config.kmeans)
    predicted = ws.clustering_labels(record["id"])
    if table is None:
        truth, mask = labelled_mask(adata)
        if truth is None:
            raise InputError(f"dataset {dataset!r} has no labels", "give a label file with --labels")
    else:
        truth, mask, predicted = _align(table, adata, predicted)
    metrics = score_labels(truth, predicted, mask)
    return ScoreOutcome(dataset=dataset, method="clustering", metrics=metrics, clustering_id=record["id"],
                        key=record["key"], n_clusters=record["n_clusters"])


@dataclass
class ClassifyOutcome(Result):
    dataset: str
    label: str
    labels: list
    per_label: list
    balanced_macro_f1: float
    heldout_macro_f1: float
    n_test: int
    keys: dict = field(default_factory=dict)


def classify(ws, dataset: str, config: ClassifyConfig, progress=NULL) -> ClassifyOutcome:
    """Per-label classifiers on ``config.rep`` for the labels in ``obs[config.label]``; predictions
    written into the dataset."""
    from ..tl.classify import KEY, run_classify

    config.check()
    ws = open_workspace(ws)
    ws.dataset(dataset)
    with editing(ws, dataset) as adata:
        if config.label not in adata.obs:
            raise InputError(f"no column {config.label!r} in dataset {dataset!r}",
                             f"choose one of {short_list(list(adata.obs.columns), 12)}")
        result = run_classify(adata, config.label, use_rep=config.rep, sep=config.sep, threshold=config.threshold,
                              test_fraction=config.test_fraction, n_estimators=config.trees,
                              random_state=config.seed, progress=progress)
    return ClassifyOutcome(dataset=dataset, label=config.label, labels=result.labels, per_label=result.per_label,
                           balanced_macro_f1=round(result.balanced_macro_f1, 4),
                           heldout_macro_f1=round(result.heldout_macro_f1, 4), n_test=int(len(result.test_cells)),
                           keys={"obs": KEY, "obsm": f"{KEY}_proba", "uns": KEY})
