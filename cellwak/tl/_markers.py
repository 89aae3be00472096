"""``markers``: what sets each cluster apart, feature by feature (cluster vs the rest).

For every group of ``obs[groupby]`` against all other cells, and every feature (the columns of
``X``, or of ``obsm[use_rep]``):

- a test statistic and its two-sided p-value:
  ``wilcoxon``: the Wilcoxon rank-sum (Mann-Whitney) z-score, normal approximation, ties given
  their average rank and the variance tie-corrected, no continuity correction (scipy's
  ``mannwhitneyu(..., method='asymptotic', use_continuity=False)``). Each feature is ranked once
  over all cells and the rank sums of all groups come from one weighted ``bincount``, so the cost
  is one sort per feature whatever the number of groups;
  ``t-test``: Welch's t (unequal variances; scipy's ``ttest_ind(equal_var=False)``);
  ``logreg``: no test: the score is the coefficient of the feature in a one-vs-rest
  scikit-learn ``LogisticRegression`` (L2, C=1) on standardised features, fitted on a seeded
  random subsample of ``LOGREG_MAX_CELLS`` (100,000) cells when there are more;
- the Benjamini-Hochberg adjusted p-value (over the features of one group);
- an effect size, stored as ``logfoldchanges`` (scanpy's field name) and described in
  ``params['effect']``: when the features are non-negative (counts, intensities, pixels) the log2
  fold change of the means, ``log2((mean_in + 1e-9) / (mean_rest + 1e-9))``, and when the data say
  they are log1p-transformed (``uns['log1p']``, as scanpy writes it) the means are taken back to
  counts first (``expm1``), exactly as scanpy does; otherwise (standardised, arcsinh-transformed or
  embedded features with negative values, where a ratio of means means nothing) the standardised
  mean difference ``(mean_in - mean_rest) / sqrt((var_in + var_rest) / 2)``;
- ``pts``: the share of the group's cells above the feature's median over all cells (for sparse
  counts, whose median is 0, this is scanpy's share of cells expressing the gene), and
  ``pts_rest`` the same share among the other cells.

Written to ``uns[key_added]`` exactly as ``scanpy.tl.rank_genes_groups`` writes its results:
record arrays ``names``, ``scores``, ``logfoldchanges``, ``pvals``, ``pvals_adj`` (one field per
group, features sorted by decreasing score; ``pvals*`` absent for logreg), ``pts`` and
``pts_rest`` (DataFrames, features x groups) and ``params`` (``groupby``, ``reference='rest'``,
``method``, ``use_raw=False``, ``layer=None``, ``corr_method='benjamini-hochberg'``, plus
cellwak's ``effect``, ``use_rep``, ``n_top``, ``n_fit_cells``). So ``sc.pl.rank_genes_groups``,
``sc.get.rank_genes_groups_df`` and ``sc.pl.rank_genes_groups_dotplot`` (features of ``X``) work on it.

Image datasets (``obsm['images']``, (N, C, H, W)) also get ``uns[key_added + '_images']``:
``mean`` (K, C, H, W) float32, each group's mean crop, and ``typical`` (K, t) int, the indices of
the group's ``n_typical`` cells nearest its centroid in ``typical_rep`` (an obsm key; default the
scaled pixels), nearest first (-1 pads groups with fewer cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..choices import MARKER_METHODS
from ..errors import InputError, short_list
from ..progress import NULL

KEY = "cellwak_markers"
METHODS = MARKER_METHODS
LOGREG_MAX_CELLS = 100_000
EPS = 1e-9                      # scanpy's guard against log(0) in fold changes
BLOCK_BYTES = 64 * 2**20        # features are read in column blocks of about this size
CORR_METHOD = "benjamini-hochberg"
LOG2FC = "log2 fold change of means"
LOG2FC_LOG1P = "log2 fold change of expm1(means), as scanpy on log1p data"
SMD = "standardised mean difference"


@dataclass
class MarkersResult:
    """Every statistic for every group (rows, in ``groups`` order) and feature (columns)."""

    groups: list[str]
    sizes: np.ndarray                 # (K,) cells per group
    names: np.ndarray                 # (F,) feature names
    scores: np.ndarray                # (K, F) z (wilcoxon), t (t-test) or coefficient (logreg)
    effects: np.ndarray               # (K, F) log2 fold change or standardised mean difference
    pvals: np.ndarray | None          # (K, F) two-sided; None for logreg
    pvals_adj: np.ndarray | None      # (K, F) Benjamini-Hochberg within each group
    pts: np.ndarray                   # (K, F) share of the group above the feature's overall median
    pts_rest: np.ndarray              # (K, F) the same among the other cells
    means: np.ndarray                 # (K, F)
    method: str
    effect: str                       # what ``effects`` holds (LOG2FC, LOG2FC_LOG1P or SMD)
    params: dict = field(default_factory=dict)
    images: dict | None = None        # {'mean': (K,C,H,W), 'typical': (K,t)} for image datasets
    seconds: float = 0.0

    def top(self, group: int, n: int) -> list[dict]:
        """The ``n`` features that name group index ``group`` (:func:`naming_order`)."""
        s = self.scores[group]
        return [{"name": str(self.names[j]), "score": float(s[j]), "effect": float(self.effects[group, j]),
                 "p_adj": None if self.pvals_adj is None else float(self.pvals_adj[group, j]),
                 "pts": float(self.pts[group, j]), "direction": "+" if s[j] > 0 else "-"}
                for j in naming_order(s)[:n]]


POSITIVE_FIRST = 0.5  # a higher feature leads the name when its score is at least half the largest


def naming_order(scores) -> np.ndarray:
    """How a cluster is named: by the size of each feature's score in either direction (what sets
    it apart most, e.g. CD3-), except that its most strongly higher feature leads when it is
    nearly as strong (at least half the largest score): what the cells express names them first
    (a live/dead stain names dead cells). Ties by position."""
    s = np.asarray(scores, dtype=float)
    order = np.lexsort((np.arange(len(s)), -np.abs(s)))
    if len(s) and s.max() > 0 and s.max() >= POSITIVE_FIRST * np.abs(s).max():
        first = int(np.lexsort((np.arange(len(s)), -s))[0])
        order = np.concatenate([[first], order[order != first]])
    return order.astype(np.int64)


def check_markers(*, method: str = "wilcoxon", n_top: int | None = None) -> None:
    """Refuse settings that cannot work (one line each), before any data is read."""
    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}", f"choose one of {', '.join(METHODS)}")
    if n_top is not None and n_top < 1:
        raise InputError(f"--top must be at least 1, got {n_top}")


# -- statistics on arrays ------------------------------------------------------------------------

def bh_adjust(pvals: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values along the last axis (NaN counts as 1)."""
    p = np.where(np.isnan(pvals), 1.0, np.asarray(pvals, dtype=np.float64))
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), axis=-1)
    return out


def _column_blocks(X, n_cells: int):
    """(start, stop, block) with block a (features, cells) C-contiguous array: the features are
    read a block of columns at a time (sparse matrices through CSC), in their own dtype."""
    import scipy.sparse as sp

    n_features = X.shape[1]
    itemsize = max(4, np.dtype(X.dtype).itemsize)
    width = int(max(1, min(n_features, BLOCK_BYTES // max(1, n_cells * itemsize))))
    if sp.issparse(X):
        X = X.tocsc()
    for start in range(0, n_features, width):
        stop = min(n_features, start + width)
        block = X[:, start:stop]
        block = block.toarray() if sp.issparse(block) else np.asarray(block)
        if block.dtype == bool or not np.issubdtype(block.dtype, np.number):
            block = block.astype(np.float32)
        yield start, stop, np.ascontiguousarray(block.T)


def _rank_sums(col: np.ndarray, codes: np.ndarray, n_groups: int):
    """One feature: rank sums per group (average ranks for ties), the tie term sum(t^3 - t), the
    median and the count of cells above it per group. One sort, no loop over cells."""
    n = col.shape[0]
    order = np.argsort(col, kind="quicksort")
    values = col[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    counts = np.diff(np.r_[starts, n])
    average = starts + (counts + 1) / 2.0                   # 1-based average rank of each run of ties
    groups = codes[order]
    sums = np.bincount(groups, weights=np.repeat(average, counts), minlength=n_groups)
    t = counts.astype(np.float64)
    ties = float((t * t * t - t).sum())
    median = 0.5 * (float(values[(n - 1) // 2]) + float(values[n // 2]))
    first_above = int(np.searchsorted(values, median, side="right"))
    above = np.bincount(groups[first_above:], minlength=n_groups)
    return sums, ties, median, above


def _statistics(X, codes: np.ndarray, n_groups: int, *, wilcoxon: bool, progress=NULL, label: str = "markers"):
    """Per group and feature: sums and centred sums of squares, cells above the median, and for
    Wilcoxon the rank sums and per-feature tie terms. One pass over the features."""
    n_cells, n_features = X.shape
    shape = (n_groups, n_features)
    mean_all = np.zeros(n_features)
    s1, s2, above = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    ranks = np.zeros(shape) if wilcoxon else None
    ties = np.zeros(n_features) if wilcoxon else None
    minimum = np.inf
    with progress.task(label, total=n_features) as task:
        for start, stop, block in _column_blocks(X, n_cells):
            if not np.isfinite(block).all():
                raise InputError("the features hold NaN or infinite values",
                                 "drop or impute them first (`cellwak data add --drop-nonfinite`)")
            minimum = min(minimum, float(block.min()))
            for i, col in enumerate(block):
                j = start + i
                mu = col.mean(dtype=np.float64)
                centred = col.astype(np.float64) - mu
                mean_all[j] = mu
                s1[:, j] = np.bincount(codes, weights=centred, minlength=n_groups)
                s2[:, j] = np.bincount(codes, weights=centred * centred, minlength=n_groups)
                if wilcoxon:
                    ranks[:, j], ties[j], _, above[:, j] = _rank_sums(col, codes, n_groups)
                else:
                    median = np.median(col)
                    above[:, j] = np.bincount(codes[col > median], minlength=n_groups)
            task.advance(stop - start)
    return {"mean_all": mean_all, "s1": s1, "s2": s2, "above": above, "ranks": ranks, "ties": ties, "min": minimum}


def _moments(stats: dict, sizes: np.ndarray, n_cells: int):
    """Means and unbiased variances of each group and of its rest."""
    n_in = sizes[:, None].astype(np.float64)
    n_out = n_cells - n_in
    s1, s2 = stats["s1"], stats["s2"]
    t1, t2 = s1.sum(axis=0), s2.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in = s1 / n_in
        mean_out = (t1 - s1) / n_out
        var_in = np.where(n_in > 1, (s2 - s1 * mean_in) / (n_in - 1), 0.0)
        var_out = np.where(n_out > 1, ((t2 - s2) - (t1 - s1) * mean_out) / (n_out - 1), 0.0)
    var_in, var_out = np.maximum(var_in, 0.0), np.maximum(var_out, 0.0)
    return mean_in + stats["mean_all"], var_in, mean_out + stats["mean_all"], var_out, n_in, n_out


def _wilcoxon(stats: dict, n_in, n_out, n_cells: int):
    from scipy.special import ndtr

    expected = n_in * (n_cells + 1) / 2.0
    tie = stats["ties"][None, :] / (n_cells * (n_cells - 1.0))
    sigma = np.sqrt(n_in * n_out / 12.0 * ((n_cells + 1) - tie))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (stats["ranks"] - expected) / sigma
    z[~np.isfinite(z)] = 0.0               # a constant feature: no evidence either way
    return z, 2.0 * ndtr(-np.abs(z))


def _welch(mean_in, var_in, n_in, mean_out, var_out, n_out):
    from scipy.stats import ttest_ind_from_stats

    with np.errstate(invalid="ignore", divide="ignore"):
        t, p = ttest_ind_from_stats(mean_in, np.sqrt(var_in), n_in, mean_out, np.sqrt(var_out), n_out, equal_var=False)
    t, p = np.asarray(t, dtype=np.float64), np.asarray(p, dtype=np.float64)
    t[np.isnan(t)] = 0.0                   # equal means, no variance (as scanpy)
    p[np.isnan(p)] = 1.0
    return t, p


def _logreg(X, codes: np.ndarray, n_groups: int, mean: np.ndarray, std: np.ndarray, seed: int):
    """One-vs-rest logistic regression coefficients (K, F) on standardised features, on a seeded
    subsample of at most LOGREG_MAX_CELLS cells. Returns (coefficients, cells fitted)."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    n = X.shape[0]
    rows = np.arange(n)
    if n > LOGREG_MAX_CELLS:
        rows = np.sort(np.random.default_rng(seed).choice(n, LOGREG_MAX_CELLS, replace=False))
    Z = X[rows]
    Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z)
    Z = Z.astype(np.float32)
    safe = np.where(std > 0, std, 1.0).astype(np.float32)
    Z -= mean.astype(np.float32)
    Z /= safe
    y = codes[rows]
    coef = np.zeros((n_groups, X.shape[1]))
    for k in range(n_groups):
        target = y == k
        if target.all() or not target.any():
            continue
        model = LogisticRegression(C=1.0, max_iter=500, random_state=seed)
        coef[k] = model.fit(Z, target).coef_[0]
    return coef, len(rows)


def marker_statistics(X, codes: np.ndarray, groups: list[str], names, *, method: str = "wilcoxon",
                      log1p: bool = False, seed: int = 0, progress=NULL) -> MarkersResult:
    """The statistics of the module docstring for a (cells x features) matrix ``X`` (dense or
    sparse) and group codes 0..K-1 (one per cell). Pure computation: nothing is written."""
    import time

    check_markers(method=method)
    t0 = time.perf_counter()
    n_cells = X.shape[0]
    codes = np.asarray(codes, dtype=np.int64)
    n_groups = len(groups)
    sizes = np.bincount(codes, minlength=n_groups)
    if n_groups < 2:
        raise InputError(f"markers compare each group with the rest, but there is only {n_groups} group",
                         "cluster with a higher resolution (--gamma) first")
    stats = _statistics(X, codes, n_groups, wilcoxon=method == "wilcoxon", progress=progress,
                        label=f"markers ({method}, {n_groups} groups)")
    mean_in, var_in, mean_out, var_out, n_in, n_out = _moments(stats, sizes, n_cells)
    n_fit = None
    if method == "wilcoxon":
        scores, pvals = _wilcoxon(stats, n_in, n_out, n_cells)
    elif method == "t-test":
        scores, pvals = _welch(mean_in, var_in, n_in, mean_out, var_out, n_out)
    else:
        total = stats["s2"].sum(axis=0)
        std = np.sqrt(np.maximum(total / n_cells - (stats["s1"].sum(axis=0) / n_cells) ** 2, 0.0))
        scores, n_fit = _logreg(X, codes, n_groups, stats["mean_all"], std, seed)
        pvals = None
    if stats["min"] >= 0:
        kind = LOG2FC_LOG1P if log1p else LOG2FC
        a, b = (np.expm1(mean_in), np.expm1(mean_out)) if log1p else (mean_in, mean_out)
        effects = np.log2((a + EPS) / (b + EPS))
    else:
        kind = SMD
        diff = mean_in - mean_out
        scale = np.sqrt((var_in + var_out) / 2.0)
        effects = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    above = stats["above"]
    with np.errstate(invalid="ignore", divide="ignore"):
        pts = above / n_in
        pts_rest = (above.sum(axis=0) - above) / n_out
    return MarkersResult(
        groups=list(groups), sizes=sizes, names=np.asarray(names, dtype=object), scores=scores, effects=effects,
        pvals=pvals, pvals_adj=None if pvals is None else bh_adjust(pvals), pts=np.nan_to_num(pts),
        pts_rest=np.nan_to_num(pts_rest), means=mean_in, method=method, effect=kind,
        params={"n_fit_cells": n_fit}, seconds=time.perf_counter() - t0)


def image_summary(images: np.ndarray, codes: np.ndarray, n_groups: int, rep: np.ndarray,
                  n_typical: int = 8, chunk: int = 4096) -> dict:
    """Per group: the mean crop (K, C, H, W) float32, and the indices of the ``n_typical`` cells
    nearest the group's centroid in ``rep`` (K, t), nearest first, -1 where a group is smaller."""
    n = images.shape[0]
    flat_sums = np.zeros((n_groups, int(np.prod(images.shape[1:]))))
    for s in range(0, n, chunk):
        part = np.asarray(images[s:s + chunk]).reshape(min(chunk, n - s), -1).astype(np.float64)
        for k in np.unique(codes[s:s + chunk]):
            flat_sums[k] += part[codes[s:s + chunk] == k].sum(axis=0)
    sizes = np.bincount(codes, minlength=n_groups).astype(np.float64)
    mean = (flat_sums / np.maximum(sizes, 1)[:, None]).astype(np.float32).reshape((n_groups, *images.shape[1:]))
    rep = np.asarray(rep, dtype=np.float64)
    centroids = np.zeros((n_groups, rep.shape[1]))
    np.add.at(centroids, codes, rep)
    centroids /= np.maximum(sizes, 1)[:, None]
    distance = np.sqrt(((rep - centroids[codes]) ** 2).sum(axis=1))
    order = np.lexsort((distance, codes))                  # by group, nearest first within a group
    first = np.r_[0, np.cumsum(np.bincount(codes, minlength=n_groups))[:-1]]
    typical = np.full((n_groups, n_typical), -1, dtype=np.int64)
    for k in range(n_groups):
        take = order[first[k]:first[k] + min(n_typical, int(sizes[k]))]
        typical[k, :len(take)] = take
    return {"mean": mean, "typical": typical}


# -- the AnnData tool ----------------------------------------------------------------------------

def _groups(adata, groupby: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(codes of the cells that have a group, group names, mask of those cells)."""
    import pandas as pd

    if groupby not in adata.obs:
        raise InputError(f"no obs column {groupby!r} to group by",
                         f"run cw.tl.leiden(adata) first or choose one of {short_list(list(adata.obs.columns))}")
    column = adata.obs[groupby]
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype(str).astype("category")
    cat = cat.cat.remove_unused_categories()
    codes = cat.cat.codes.to_numpy().astype(np.int64)
    return codes, [str(c) for c in cat.cat.categories], codes >= 0


def _matrix(adata, use_rep: str | None):
    if use_rep is None or use_rep == "X":
        if adata.X is None:
            raise InputError("this AnnData has no X", "name an obsm key with use_rep=")
        return adata.X, np.asarray(adata.var_names.astype(str), dtype=object), "X"
    if use_rep not in adata.obsm or use_rep == "images":
        raise InputError(f"no representation {use_rep!r} in this dataset",
                         f"choose one of {short_list([k for k in adata.obsm if k != 'images'] + ['X'])}, "
                         "or leave --rep out for the features")
    arr = adata.obsm[use_rep]
    arr = arr.to_numpy() if hasattr(arr, "to_numpy") else arr
    if arr.ndim != 2:
        raise InputError(f"representation {use_rep!r} has shape {arr.shape}", "it must be cells x dimensions")
    return arr, np.asarray([f"{use_rep}_{i}" for i in range(arr.shape[1])], dtype=object), use_rep


def _records(result: MarkersResult, n_top: int | None) -> dict:
    """scanpy's layout: per field a record array with one column per group, features sorted by
    decreasing score (scanpy's _select_top_n order)."""
    import pandas as pd

    n = result.scores.shape[1] if n_top is None else min(n_top, result.scores.shape[1])
    orders = [np.argsort(-result.scores[k], kind="stable")[:n] for k in range(len(result.groups))]
    fields = {"names": (result.names, "O"), "scores": (result.scores, "float32"),
              "logfoldchanges": (result.effects, "float32")}
    if result.pvals is not None:
        fields["pvals"] = (result.pvals, "float64")
        fields["pvals_adj"] = (result.pvals_adj, "float64")
    out = {}
    for name, (values, dtype) in fields.items():
        frame = pd.DataFrame({g: (values[o] if values.ndim == 1 else values[k, o])
                              for k, (g, o) in enumerate(zip(result.groups, orders))})
        out[name] = frame.to_records(index=False, column_dtypes={g: dtype for g in result.groups})
    return out


def run_markers(adata, groupby: str = "cellwak_leiden", *, method: str = "wilcoxon", use_rep: str | None = None,
                n_top: int | None = None, key_added: str = KEY, typical_rep: str | None = None, n_typical: int = 8,
                random_state: int = 0, progress=NULL) -> MarkersResult:
    """Compute the markers of every group of ``obs[groupby]`` against the rest, write them as the
    module docstring says, and return the full result (every feature, every group)."""
    import pandas as pd

    from .. import provenance
    from ..pp.representation import is_image_dataset, scaled_features

    check_markers(method=method, n_top=n_top)
    X, names, rep_name = _matrix(adata, use_rep)
    codes, groups, mask = _groups(adata, groupby)
    if not mask.all():  # cells without a group take part in no comparison
        X = X[mask]
    log1p = rep_name == "X" and "log1p" in adata.uns
    result = marker_statistics(X, codes[mask], groups, names, method=method, log1p=log1p, seed=random_state,
                               progress=progress)
    params = {"groupby": groupby, "reference": "rest", "method": method, "use_raw": False, "layer": None,
              "corr_method": CORR_METHOD, "effect": result.effect, "use_rep": rep_name,
              "n_top": n_top, "n_fit_cells": result.params["n_fit_cells"], "random_state": int(random_state)}
    result.params = params
    uns = {"params": dict(params), **_records(result, n_top)}
    uns["pts"] = pd.DataFrame(result.pts.T, index=pd.Index(result.names.astype(str)), columns=result.groups)
    uns["pts_rest"] = pd.DataFrame(result.pts_rest.T, index=pd.Index(result.names.astype(str)), columns=result.groups)
    adata.uns[key_added] = uns
    if is_image_dataset(adata):
        if typical_rep is None:
            rep = scaled_features(adata)
        else:
            rep, _, _ = _matrix(adata, typical_rep)
        images = np.asarray(adata.obsm["images"])
        keep = np.flatnonzero(mask)
        summary = image_summary(images[keep] if not mask.all() else images, codes[mask], len(groups),
                                np.asarray(rep)[keep] if not mask.all() else rep, n_typical)
        if not mask.all():  # indices into the whole AnnData
            summary["typical"] = np.where(summary["typical"] >= 0, keep[np.maximum(summary["typical"], 0)], -1)
        result.images = summary
        adata.uns[f"{key_added}_images"] = {**summary, "groups": np.asarray(groups, dtype=object),
                                            "params": {"typical_rep": typical_rep or "X (scaled pixels)",
                                                       "n_typical": int(n_typical)}}
    adata.uns.setdefault("cellwak", {})["markers"] = provenance.record(
        "markers", {**params, "key_added": key_added}, seed=random_state, device="cpu", seconds=result.seconds)
    return result


def markers(adata, groupby: str = "cellwak_leiden", *, method: str = "wilcoxon", use_rep: str | None = None,
            n_top: int | None = None, key_added: str = KEY, typical_rep: str | None = None, n_typical: int = 8,
            random_state: int = 0, copy: bool = False, progress=NULL):
    """Marker features of each group of ``obs[groupby]`` against the rest (see the module
    docstring for the methods and what is written). ``use_rep``: None (the features ``X``) or an
    obsm key. ``n_top``: features kept per group (None: all). Returns None, or the modified copy
    with ``copy=True``."""
    adata = adata.copy() if copy else adata
    run_markers(adata, groupby, method=method, use_rep=use_rep, n_top=n_top, key_added=key_added,
                typical_rep=typical_rep, n_typical=n_typical, random_state=random_state, progress=progress)
    return adata if copy else None
