"""The small tables R draws from, computed here so that R never receives a million rows it does
not need: per-cluster means or medians, label and batch shares, counts, the enrichment and
interaction tables, each cluster's typical crops. Pure pandas/NumPy; no files, no R."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError, short_list

MAX_HEATMAP_FEATURES = 50     # more columns than this are unreadable: the most variable across clusters
MAX_COMPOSITION_LEVELS = 12   # label/batch values shown in the heatmap's bars; the rest is 'other'
UNLABELLED = "unlabelled"     # the cells without a label (missing or an `unlabeled` value), drawn grey
LAYOUT_KEYS = ("X_cellwak_umap", "X_umap", "X_cellwak_pca2", "X_tsne", "X_pca", "X_cellwak_pca")


def dataset_record(adata) -> dict:
    return adata.uns.get("cellwak", {}).get("dataset", {}) if isinstance(adata.uns.get("cellwak"), dict) else {}


def require_obs(adata, column: str, what: str) -> pd.Series:
    if column not in adata.obs:
        raise InputError(f"the dataset has no obs column {column!r} ({what})",
                         f"choose one of: {short_list([str(c) for c in adata.obs.columns], 8) or 'none'}")
    return adata.obs[column]


def group_codes(values) -> tuple[np.ndarray, list[str]]:
    """(int code per cell, group names): numbers in numeric order, else in order of size."""
    text = pd.Series(np.asarray(values).astype(str))
    names = pd.unique(text)
    numeric = pd.to_numeric(pd.Series(names), errors="coerce")
    if numeric.notna().all():
        names = [names[i] for i in np.argsort(numeric.to_numpy(), kind="stable")]
    else:
        names = list(text.value_counts().index)
    lookup = {n: i for i, n in enumerate(names)}
    return text.map(lookup).to_numpy(np.int64), [str(n) for n in names]


def layout(adata, basis: str | None) -> tuple[np.ndarray, str, str]:
    """(n x 2 coordinates, the obsm key or 'computed', axis name) of a 2-D layout: ``basis``, else
    the first stored one of :data:`LAYOUT_KEYS`, else a PCA of the standardised features now."""
    keys = [basis] if basis else [k for k in LAYOUT_KEYS if k in adata.obsm]
    if basis and basis not in adata.obsm:
        raise InputError(f"the dataset has no layout {basis!r} in obsm",
                         f"run `cellwak embed umap` first or choose one of: {short_list(list(adata.obsm), 8) or 'none'}")
    for key in keys:
        xy = np.asarray(adata.obsm[key])
        if xy.ndim == 2 and xy.shape[1] >= 2:
            name = "UMAP" if "umap" in key.lower() else "tSNE" if "tsne" in key.lower() else "PC"
            return xy[:, :2].astype(np.float64), key, name
    return pca2(adata.X), "computed", "PC"


def pca2(X) -> np.ndarray:
    """The first two principal components of the standardised features (randomised SVD)."""
    from sklearn.decomposition import PCA

    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float32)
    X = X.reshape(X.shape[0], -1).astype(np.float32)
    sd = X.std(axis=0)
    Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1)
    return PCA(2, svd_solver="randomized", random_state=0).fit_transform(Z).astype(np.float64)


def colour_values(adata, color: str) -> tuple[pd.Series | np.ndarray, bool]:
    """(one value per cell, categorical?) for an obs column or a feature (var name)."""
    if color in adata.obs:
        values = adata.obs[color]
        numeric = pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype)
        if numeric and values.nunique() <= 30 and np.allclose(values.dropna() % 1, 0):
            numeric = False  # cluster numbers, plates
        return (values.to_numpy(np.float64) if numeric else values.astype(str).to_numpy()), not numeric
    if color in adata.var_names:
        column = adata[:, color].X
        column = column.toarray() if hasattr(column, "toarray") else np.asarray(column)
        return column.ravel().astype(np.float64), False
    raise InputError(f"nothing named {color!r} to colour by (neither an obs column nor a feature)",
                     f"obs columns: {short_list([str(c) for c in adata.obs.columns], 8) or 'none'}; "
                     f"features: {short_list([str(v) for v in adata.var_names], 8)}")


def embedding_table(xy: np.ndarray, values, categorical: bool) -> pd.DataFrame:
    value = pd.Categorical(np.asarray(values).astype(str)) if categorical else np.asarray(values, np.float64)
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "value": value})


def _dense(X) -> np.ndarray:
    return X.toarray() if hasattr(X, "toarray") else np.asarray(X)


def cluster_statistic(X, codes: np.ndarray, n_groups: int, statistic: str) -> np.ndarray:
    """(groups x features) mean or median, in chunks of features (a million cells stay cheap)."""
    if statistic == "mean":
        from scipy import sparse

        onehot = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes)))
        sizes = np.maximum(np.bincount(codes, minlength=n_groups), 1)[:, None]
        return np.asarray(onehot @ X, dtype=np.float64) / sizes if not hasattr(X, "toarray") else \
            np.asarray((onehot @ X).toarray(), dtype=np.float64) / sizes
    if statistic != "median":
        raise InputError(f"unknown statistic {statistic!r}", "use mean or median")
    out = np.zeros((n_groups, X.shape[1]))
    for start in range(0, X.shape[1], 16):
        block = pd.DataFrame(_dense(X[:, start:start + 16]).astype(np.float64))
        out[:, start:start + block.shape[1]] = block.groupby(codes).median().reindex(range(n_groups)).to_numpy()
    return out


def shares(codes: np.ndarray, n_groups: int, values, mask: np.ndarray | None, prefix: str) -> pd.DataFrame:
    """Per group, the share of each value among its cells (masked cells left out); the rarest
    values beyond :data:`MAX_COMPOSITION_LEVELS` pooled as 'other'."""
    values = pd.Series(np.asarray(values).astype(str))
    keep = np.ones(len(codes), bool) if mask is None else np.asarray(mask, bool)
    frame = pd.DataFrame({"g": codes[keep], "v": values.to_numpy()[keep]})
    counts = pd.crosstab(frame["g"], frame["v"])
    counts = counts.reindex(range(n_groups), fill_value=0)
    order = [c for c in counts.sum(axis=0).sort_values(ascending=False).index if c != UNLABELLED]
    if len(order) > MAX_COMPOSITION_LEVELS:
        top = order[:MAX_COMPOSITION_LEVELS - 1]
        counts = pd.concat([counts[top], counts.drop(columns=top + [c for c in [UNLABELLED] if c in counts])
                            .sum(axis=1).rename("other")] + ([counts[UNLABELLED]] if UNLABELLED in counts else []), axis=1)
    else:
        counts = counts[order + ([UNLABELLED] if UNLABELLED in counts else [])]
    frac = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    frac.columns = [f"{prefix}{c}" for c in frac.columns]
    return frac.reset_index(drop=True)


def heatmap_table(adata, groups, *, features=None, statistic: str = "mean", labels=None, label_mask=None,
                  batches=None) -> tuple[pd.DataFrame, dict]:
    """One row per cluster: cluster, n_cells, label (majority), the features' per-cluster
    statistic, label__/batch__ shares. Returns (table, what was chosen)."""
    codes, names = group_codes(groups)
    k = len(names)
    var = np.asarray(adata.var_names.astype(str))
    if features:
        unknown = [f for f in features if f not in set(var)]
        if unknown:
            raise InputError(f"no feature named {short_list(unknown)}", f"features: {short_list(list(var), 8)}")
        columns = [int(np.flatnonzero(var == f)[0]) for f in features]
    else:
        columns = list(range(len(var)))
    X = adata.X[:, columns] if len(columns) != len(var) else adata.X
    if X.ndim != 2 or X.shape[1] == 0:
        raise InputError("the dataset has no features to draw", "choose features with --features")
    values = cluster_statistic(X, codes, k, statistic)
    chosen = np.arange(len(columns))
    if len(columns) > MAX_HEATMAP_FEATURES:  # the features that differ most between clusters (scale-free)
        spread = values.std(axis=0) / np.maximum(_feature_sd(X), 1e-12)
        chosen = np.sort(np.argsort(-spread)[:MAX_HEATMAP_FEATURES])
    table = pd.DataFrame({"cluster": names, "n_cells": np.bincount(codes, minlength=k)})
    info = {"n_features": len(columns), "features_shown": [str(var[columns[j]]) for j in chosen]}
    if labels is not None:   # shares of all cells: the unlabelled ones are a share of their own
        mask = np.ones(len(codes), bool) if label_mask is None else np.asarray(label_mask, bool)
        shown = np.where(mask, np.asarray(labels).astype(str), UNLABELLED)
        label_share = shares(codes, k, shown, None, "label__")
        top = label_share.idxmax(axis=1).str.replace("label__", "", regex=False)
        best = label_share.max(axis=1)
        table["label"] = [f"{t} ({100 * b:.0f}%)" if b > 0 else "-" for t, b in zip(top, best)]
        table = pd.concat([table, label_share], axis=1)
    table = pd.concat([table, pd.DataFrame(values[:, chosen], columns=info["features_shown"])], axis=1)
    if batches is not None:
        table = pd.concat([table, shares(codes, k, batches, None, "batch__")], axis=1)
    return table, info


def _feature_sd(X) -> np.ndarray:
    if hasattr(X, "toarray"):
        mean = np.asarray(X.mean(axis=0)).ravel()
        return np.sqrt(np.maximum(np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean ** 2, 0))
    return np.asarray(X, dtype=np.float64).std(axis=0)


def composition_table(groups, by) -> pd.DataFrame:
    codes, names = group_codes(groups)
    frame = pd.DataFrame({"group": np.asarray(by).astype(str), "cluster": np.asarray(names)[codes]})
    counts = frame.value_counts().rename("count").reset_index()
    return counts[["group", "cluster", "count"]]


def typical_cells(rep: np.ndarray, codes: np.ndarray, n_groups: int, n_typical: int, chunk: int = 65536) -> list:
    """Per group the indices of the ``n_typical`` cells nearest its centroid in ``rep``."""
    rep = rep.reshape(rep.shape[0], -1)
    sizes = np.maximum(np.bincount(codes, minlength=n_groups), 1)
    centroids = np.zeros((n_groups, rep.shape[1]))
    for s in range(0, rep.shape[0], chunk):
        np.add.at(centroids, codes[s:s + chunk], np.asarray(rep[s:s + chunk], dtype=np.float64))
    centroids /= sizes[:, None]
    distance = np.empty(rep.shape[0])
    for s in range(0, rep.shape[0], chunk):
        part = np.asarray(rep[s:s + chunk], dtype=np.float64)
        distance[s:s + chunk] = ((part - centroids[codes[s:s + chunk]]) ** 2).sum(axis=1)
    order = np.lexsort((distance, codes))
    first = np.r_[0, np.cumsum(np.bincount(codes, minlength=n_groups))[:-1]]
    counts = np.bincount(codes, minlength=n_groups)
    return [order[first[g]:first[g] + min(n_typical, counts[g])] for g in range(n_groups)]


def display_pixels(images: np.ndarray) -> np.ndarray:
    """(n, C, H, W) crops of any dtype -> (n, H, W, 3 or 1) in 0..1 for display: 8-bit as is, other
    types per channel between the 1st and 99.5th percentile of the crops shown; more than three
    channels: the first three."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    eight_bit = images.dtype == np.uint8
    images = images[:, :3].astype(np.float64)
    if eight_bit:
        scaled = images / 255.0
    else:
        lo = np.percentile(images, 1, axis=(0, 2, 3), keepdims=True)
        hi = np.percentile(images, 99.5, axis=(0, 2, 3), keepdims=True)
        scaled = (images - lo) / np.where(hi > lo, hi - lo, 1)
    return np.clip(scaled, 0, 1).transpose(0, 2, 3, 1)
