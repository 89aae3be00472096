"""Agreement between a clustering and reference labels (only cells with a real label count),
and label-free quality of a clustering on its representation."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _masked(true_labels, predicted, mask):
    true_labels = np.asarray(true_labels)
    predicted = np.asarray(predicted)
    if mask is not None:
        true_labels, predicted = true_labels[mask], predicted[mask]
    return true_labels, predicted


def contingency(true_labels, predicted, mask: np.ndarray | None = None) -> pd.DataFrame:
    """Clusters (rows) x reference labels (columns): cell counts."""
    t, p = _masked(true_labels, predicted, mask)
    return pd.crosstab(pd.Series(p, name="cluster"), pd.Series(t, name="label"))


def purity(true_labels, predicted, mask: np.ndarray | None = None) -> float:
    """Share of cells whose cluster's majority label is their own label."""
    table = contingency(true_labels, predicted, mask)
    return float(table.max(axis=1).sum() / table.values.sum()) if table.size else 0.0


def hungarian_f1(true_labels, predicted, mask: np.ndarray | None = None) -> dict:
    """Match clusters to labels one-to-one (Hungarian, maximising matched cells) and give each
    label's F1 with its matched cluster (0 when no cluster is left for it), plus the macro mean."""
    from scipy.optimize import linear_sum_assignment

    table = contingency(true_labels, predicted, mask)
    counts = table.values.astype(float)
    rows, cols = linear_sum_assignment(-counts)
    cluster_size, label_size = counts.sum(axis=1), counts.sum(axis=0)
    per_label = {str(label): 0.0 for label in table.columns}
    matched = {}
    for r, c in zip(rows, cols):
        tp = counts[r, c]
        f1 = 2 * tp / (cluster_size[r] + label_size[c]) if tp else 0.0
        per_label[str(table.columns[c])] = round(float(f1), 4)
        matched[str(table.columns[c])] = int(table.index[r])
    return {"per_label": per_label, "matched_cluster": matched,
            "macro_f1": round(float(np.mean(list(per_label.values()))), 4)}


def compare(true_labels, predicted, mask: np.ndarray | None = None, *, full: bool = False) -> dict:
    """ARI and NMI (and with ``full``: AMI, purity, Hungarian-matched F1) on labelled cells."""
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score

    t, p = _masked(true_labels, predicted, mask)
    if t.size == 0:
        return {}
    out = {"ari": round(float(adjusted_rand_score(t, p)), 4),
           "nmi": round(float(normalized_mutual_info_score(t, p)), 4),
           "n_labelled": int(t.size)}
    if full:
        out["ami"] = round(float(adjusted_mutual_info_score(t, p)), 4)
        out["purity"] = round(purity(t, p), 4)
        f1 = hungarian_f1(t, p)
        out["macro_f1"] = f1["macro_f1"]
        out["f1_per_label"] = f1["per_label"]
    return out


def majority_labels(true_labels, predicted, mask: np.ndarray | None = None) -> list[dict]:
    """For each cluster: its most common reference label and that label's share of the cluster."""
    table = contingency(true_labels, predicted, mask)
    out = []
    for cluster, row in table.iterrows():
        total = int(row.sum())
        out.append({"cluster": int(cluster), "label": str(row.idxmax()),
                    "share": round(float(row.max() / total), 3) if total else 0.0})
    return out


def silhouette(X, labels, *, sample_size: int | None = 5000, seed: int = 0) -> float:
    """Mean silhouette (Euclidean) on the representation; a seeded subsample for large data.
    NaN when there are fewer than 2 clusters."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    n_clusters = len(np.unique(labels))
    if n_clusters < 2 or n_clusters >= len(labels):
        return float("nan")
    if sample_size is not None and len(labels) > sample_size:
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(labels), sample_size, replace=False)
        X, labels = np.asarray(X)[pick], labels[pick]
        if len(np.unique(labels)) < 2:
            return float("nan")
    return float(silhouette_score(X, labels))


def iawg_score(features, label_table: pd.DataFrame, *, id_column: str | None = None, label_column: str,
               feature_ids=None, n_clusters: int | None = None) -> dict:
    """The IAWG hackathon score: KMeans(n_clusters, random_state=0) on ``features``, then NMI
    against the labels of a label CSV *in that CSV's own row order* (rows matched to cells by
    ``id_column`` when given, else by position). ``n_clusters`` defaults to the label count."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    features = np.asarray(features, dtype=np.float64)
    if id_column is not None:
        index = pd.Index(np.asarray(feature_ids).astype(str))
        pos = index.get_indexer(label_table[id_column].astype(str))
        if (pos < 0).any():
            missing = label_table[id_column][pos < 0].astype(str).tolist()[:5]
            raise KeyError(f"label rows not among the cells: {missing}")
    else:
        if len(label_table) != len(features):
            raise ValueError(f"label table has {len(label_table)} rows for {len(features)} cells")
        pos = np.arange(len(features))
    truth = label_table[label_column].astype(str).to_numpy()
    k = n_clusters or len(np.unique(truth))
    pred = KMeans(n_clusters=k, random_state=0).fit_predict(features)  # defaults otherwise, as scored
    return {"nmi": round(float(normalized_mutual_info_score(truth, pred[pos])), 4), "n_clusters": int(k),
            "n_rows": int(len(pos))}
