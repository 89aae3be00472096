"""``enrich``: which values of an obs column (condition, perturbed gene, sample, label) each
cluster over-represents.

For every cluster c and every value v of ``obs[by]`` (cells without a value are left out, so N is
the number of cells with a cluster and a value)::

    k = cells of c with v      n = cells of c      K = cells with v      N = all counted cells
    p      = P(X >= k), X ~ Hypergeometric(N, K, n)       (over-representation, one-sided)
    log2OR = log2((a d) / (b c)),  a = k, b = n - k, c = K - k, d = N - n - K + k
             (0.5 added to all four when one of them is 0)
    fdr    = Benjamini-Hochberg over all clusters x values

the test the DeePWAK/CrobustaScreen scripts run per cluster (``condHyper``, shared
methods/deepwak.md 3). Scanpy-shaped: :func:`enrich` writes ``uns[key_added]``: ``table`` (a
tidy table as a dict of arrays: cluster, value, count, cluster_size, value_size, n, expected,
fold, log2_odds_ratio, pvalue, fdr; one row per cluster x value) and ``params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import provenance
from ..errors import InputError, short_list

KEY = "cellwak_enrichment"
GROUPBY = "cellwak_leiden"
COLUMNS = ("cluster", "value", "count", "cluster_size", "value_size", "n", "expected", "fold", "log2_odds_ratio",
           "pvalue", "fdr")


@dataclass
class EnrichResult:
    table: pd.DataFrame              # one row per cluster x value (COLUMNS)
    params: dict = field(default_factory=dict)

    def significant(self, fdr: float = 0.05) -> pd.DataFrame:
        """Rows with an FDR at most ``fdr`` and more cells than expected, by cluster then FDR."""
        t = self.table
        return t[(t["fdr"] <= fdr) & (t["count"] > t["expected"])].sort_values(["cluster", "fdr", "pvalue"],
                                                                               kind="stable")


def bh_fdr(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of ``pvalues``, in their order; NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]   # monotone from the largest p down
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(ranked, 1.0)
    out[ok] = adjusted
    return out


def log2_odds_ratio(k, n, K, N) -> np.ndarray:
    """log2 of the odds ratio of the 2x2 table (in cluster / not) x (with value / not); 0.5 is
    added to the four cells of a table where one of them is 0 (Haldane-Anscombe)."""
    a = np.asarray(k, dtype=float)
    b = n - a
    c = K - a
    d = N - n - K + a
    cells = np.stack(np.broadcast_arrays(a, b, c, d))
    cells = np.where((cells == 0).any(axis=0), cells + 0.5, cells)
    a, b, c, d = cells
    return np.log2(a * d / (b * c))


def _order(values) -> list:
    """Cluster or value names in natural order: numerically when all are integers."""
    values = list(values)
    try:
        return sorted(values, key=lambda v: int(v))
    except (TypeError, ValueError):
        return sorted(values, key=str)


def enrichment_table(groups, values, mask=None) -> pd.DataFrame:
    """The tidy enrichment table of clusters ``groups`` against ``values`` (per-cell arrays of
    the same length); ``mask`` (or missing values) leaves cells out."""
    from scipy.stats import hypergeom

    groups = pd.Series(np.asarray(groups, dtype=object))
    values = pd.Series(np.asarray(values, dtype=object))
    if len(groups) != len(values):
        raise InputError(f"{len(groups)} cluster labels for {len(values)} values", "give one of each per cell")
    keep = groups.notna().to_numpy() & values.notna().to_numpy()
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    g = groups[keep].astype(str).to_numpy()
    v = values[keep].astype(str).to_numpy()
    clusters, values_ = _order(np.unique(g)), _order(np.unique(v))
    gi = pd.Categorical(g, categories=clusters).codes
    vi = pd.Categorical(v, categories=values_).codes
    counts = np.zeros((len(clusters), len(values_)), dtype=np.int64)
    np.add.at(counts, (gi, vi), 1)
    N = int(counts.sum())
    n = counts.sum(axis=1)[:, None] + np.zeros_like(counts)
    K = counts.sum(axis=0)[None, :] + np.zeros_like(counts)
    pvalues = hypergeom.sf(counts - 1, N, K, n) if N else np.zeros(counts.shape)
    pvalues = np.clip(pvalues, 0.0, 1.0)
    expected = n * K / N if N else np.zeros(counts.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        fold = np.where(expected > 0, counts / np.where(expected > 0, expected, 1), np.nan)
        lor = log2_odds_ratio(counts, n, K, N)
    table = pd.DataFrame({
        "cluster": np.repeat(np.asarray(clusters, dtype=str), len(values_)),
        "value": np.tile(np.asarray(values_, dtype=str), len(clusters)),
        "count": counts.ravel(), "cluster_size": n.ravel(), "value_size": K.ravel(),
        "n": np.full(counts.size, N, dtype=np.int64), "expected": expected.ravel().astype(float),
        "fold": fold.ravel(), "log2_odds_ratio": lor.ravel(), "pvalue": pvalues.ravel(),
    })
    table["fdr"] = bh_fdr(table["pvalue"].to_numpy())
    return table


def check_enrich(adata, by: str, groupby: str | None = GROUPBY, groups=None) -> None:
    """Refusals: an unknown column, a column with fewer than two values, no clustering."""
    if by not in adata.obs:
        raise InputError(f"no obs column {by!r}", f"choose one of {short_list(list(adata.obs.columns), 12)}")
    if groups is None and groupby not in adata.obs:
        raise InputError(f"no clustering obs[{groupby!r}]", "run cw.tl.leiden(adata) first, or name the column with groupby=")
    present = adata.obs[by].dropna().astype(str).unique()
    if len(present) < 2:
        raise InputError(f"obs column {by!r} holds {'one value' if len(present) else 'no values'}"
                         + (f" ({present[0]!r})" if len(present) else ""),
                         "enrichment compares the values of a column with several (a condition, sample or label)")


def run_enrich(adata, by: str, groupby: str = GROUPBY, *, key_added: str = KEY, groups=None,
               params: dict | None = None) -> EnrichResult:
    """The enrichment of ``obs[by]`` in the clusters ``obs[groupby]`` (or the per-cell labels
    ``groups``, e.g. a recorded clustering); writes ``uns[key_added]`` and returns the result."""
    check_enrich(adata, by, groupby, groups)
    labels = adata.obs[groupby].to_numpy() if groups is None else np.asarray(groups)
    if len(labels) != adata.n_obs:
        raise InputError(f"{len(labels)} cluster labels for {adata.n_obs} cells", "give one label per cell")
    table = enrichment_table(labels, adata.obs[by].to_numpy())
    result = EnrichResult(table=table, params={
        "by": by, "groupby": groupby, "n_cells": int(table["n"].iloc[0]) if len(table) else 0,
        "n_clusters": int(table["cluster"].nunique()), "n_values": int(table["value"].nunique()),
        "n_tests": int(len(table)), "test": "hypergeometric, over-representation", "correction": "benjamini-hochberg",
        **(params or {})})
    write_enrich(adata, result, key_added)
    return result


def write_enrich(adata, result: EnrichResult, key_added: str = KEY) -> None:
    adata.uns[key_added] = {"table": {c: result.table[c].to_numpy() for c in result.table.columns},
                            "params": dict(result.params)}
    adata.uns.setdefault("cellwak", {})["enrich"] = provenance.record("enrich", result.params)


def enrichment(adata, key_added: str = KEY) -> pd.DataFrame:
    """The table :func:`enrich` stored under ``key_added``."""
    if key_added not in adata.uns:
        raise InputError(f"no enrichment under uns[{key_added!r}]", "run cw.tl.enrich(adata, by=...) first")
    return pd.DataFrame({c: np.asarray(v) for c, v in adata.uns[key_added]["table"].items()})


def enrich(adata, by: str, groupby: str = GROUPBY, key_added: str = KEY, copy: bool = False):
    """Hypergeometric over-representation of every value of ``obs[by]`` in every cluster of
    ``obs[groupby]``, with log2 odds ratios and BH FDR over all tests (module docstring).
    Writes ``uns[key_added]`` (read it with :func:`enrichment`). Returns None, or a modified
    copy with ``copy=True``."""
    adata = adata.copy() if copy else adata
    run_enrich(adata, by, groupby, key_added=key_added)
    return adata if copy else None
