"""Agreement between a clustering and reference labels (only cells with a real label count)."""

from __future__ import annotations

import numpy as np


def compare(true_labels, predicted, mask: np.ndarray | None = None) -> dict:
    """ARI and NMI of ``predicted`` against ``true_labels`` on the cells in ``mask``."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    true_labels = np.asarray(true_labels)
    predicted = np.asarray(predicted)
    if mask is not None:
        true_labels, predicted = true_labels[mask], predicted[mask]
    if true_labels.size == 0:
        return {}
    return {
        "ari": round(float(adjusted_rand_score(true_labels, predicted)), 4),
        "nmi": round(float(normalized_mutual_info_score(true_labels, predicted)), 4),
        "n_labelled": int(true_labels.size),
    }


def majority_labels(true_labels, predicted, mask: np.ndarray | None = None) -> list[dict]:
    """For each cluster: its most common reference label and that label's share of the cluster."""
    import pandas as pd

    true_labels = np.asarray(true_labels)
    predicted = np.asarray(predicted)
    if mask is not None:
        true_labels, predicted = true_labels[mask], predicted[mask]
    table = pd.crosstab(predicted, true_labels)
    out = []
    for cluster, row in table.iterrows():
        total = int(row.sum())
        out.append({"cluster": int(cluster), "label": str(row.idxmax()),
                    "share": round(float(row.max() / total), 3) if total else 0.0})
    return out
