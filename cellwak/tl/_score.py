"""``score``: a clustering in ``obs`` against reference labels (ARI, NMI, AMI, purity, F1).

Only cells with a real label count: missing values, and the dataset's ``unlabeled`` values
(e.g. ``Unlabeled`` events of a gating) when the labels are the dataset's own, are left out.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, short_list
from ..io import labelled_mask
from ..metrics import compare, contingency
from .sweep import KEY


def reference_labels(adata, label_key: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(labels as strings, mask of cells with a real label, the column's name)."""
    info = adata.uns.get("cellwak", {}).get("dataset", {})
    own = info.get("label_key")
    key = label_key or own
    if key is None:
        raise InputError("no reference labels: this dataset has no label column",
                         "name an obs column with label_key= (--labels FILE on the command line)")
    if key not in adata.obs:
        raise InputError(f"no obs column {key!r}", f"choose one of {short_list(list(adata.obs.columns))}")
    if key == own:
        truth, mask = labelled_mask(adata)
        return truth, mask, key
    column = adata.obs[key]
    return column.astype(str).to_numpy(), column.notna().to_numpy(), key


def score_labels(truth, predicted, mask) -> dict:
    """Every metric of ``compare(full=True)`` plus the contingency table (clusters x labels)."""
    metrics = compare(truth, predicted, mask, full=True)
    if not metrics:
        raise InputError("no cell has a reference label", "check the label column or file")
    cont = contingency(truth, predicted, mask)
    metrics["contingency"] = {"clusters": [str(i) for i in cont.index], "labels": [str(c) for c in cont.columns],
                              "counts": cont.values.tolist()}
    return metrics


def score(adata, key: str = KEY, label_key: str | None = None) -> dict:
    """Compare ``obs[key]`` (a clustering) with ``obs[label_key]`` (default: the dataset's label
    column). Returns ``ari``, ``nmi``, ``ami``, ``purity``, ``macro_f1``, ``f1_per_label``
    (Hungarian matching), ``n_labelled`` and ``contingency``; writes nothing."""
    if key not in adata.obs:
        raise InputError(f"no clustering obs[{key!r}]", "run cw.tl.leiden(adata) first, or name the column with key=")
    truth, mask, _ = reference_labels(adata, label_key)
    predicted = adata.obs[key].astype(str).to_numpy()
    return score_labels(truth, predicted, mask)
