"""Clusterwise stability: how well each cluster of a partition is found again on subsamples.

Hennig (2007), "Cluster-wise assessment of cluster stability" (R's ``fpc::clusterboot``): for a
cluster C of the partition of all cells and a subsample's partition of the cells it drew, the
Jaccard of C's drawn cells with the most similar cluster of the subsample, |C ∩ D| / |C ∪ D|,
averaged over the subsamples. Hennig's reading: under 0.5 the cluster dissolves, 0.6-0.75 it is a
pattern but not a reliable one, above 0.75 it is stable. The ARI of two partitions mixes every
cluster into one number, so a partition whose big clusters are found again can score well while
some of its clusters are arbitrary tiles of a continuum; the lowest clusterwise Jaccard does not.

Hand-written (a contingency table and two sums): fpc is R, and no maintained Python package
implements it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

MIN_SHARE = 0.01   # clusters holding less of the cells are left out of the lowest Jaccard


def cluster_jaccard(full: np.ndarray, cells: np.ndarray, sub: np.ndarray) -> np.ndarray:
    """Per cluster of ``full`` (labels 0..K-1 of every cell): the Jaccard of its cells among
    ``cells`` with the most similar cluster of ``sub`` (the subsample's labels of ``cells``, in
    that order); 0 for a cluster none of whose cells was drawn."""
    full = np.asarray(full)
    sub = np.asarray(sub)
    if len(cells) != len(sub):
        raise ValueError(f"{len(sub)} subsample labels for {len(cells)} cells")
    k_full = int(full.max()) + 1
    f = full[cells]
    table = sp.coo_matrix((np.ones(len(cells)), (f, sub)), shape=(k_full, int(sub.max()) + 1)).tocsr()
    drawn = np.asarray(table.sum(axis=1)).ravel()
    found = np.asarray(table.sum(axis=0)).ravel()
    coo = table.tocoo()
    jac = coo.data / (drawn[coo.row] + found[coo.col] - coo.data)
    out = np.zeros(k_full)
    np.maximum.at(out, coo.row, jac)
    return out


def lowest(jaccards, sizes, min_share: float = MIN_SHARE) -> float:
    """The lowest mean Jaccard (over the subsamples: rows of ``jaccards``, one column per cluster)
    of a cluster holding at least ``min_share`` of the cells (``sizes``: cells per cluster);
    NaN without subsamples."""
    j = np.asarray(jaccards, dtype=float)
    if j.ndim != 2 or j.shape[0] == 0:
        return float("nan")
    sizes = np.asarray(sizes, dtype=float)
    big = sizes >= min_share * sizes.sum()
    mean = j.mean(axis=0)
    return float(mean[big].min() if big.any() else mean.min())
