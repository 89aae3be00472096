"""How well features separate cell types while mixing batches (pure computation).

Four views of the same question, each with its usual direction:

- :func:`knn_accuracy`: DINO's weighted k-nearest-neighbour classifier on cosine similarity
  (higher = the features keep cell types apart);
- :func:`kbet`: kBET acceptance rate, a chi-square test of each cell's neighbourhood batch
  counts against the global batch proportions (higher = batches better mixed);
- :func:`batch_silhouette`: silhouette with batches as clusters (near 0 or below = mixed) and
  scIB's label-aware batch ASW (1 = batches perfectly mixed within each cell type);
- :func:`nsc_accuracy`: 1-nearest-neighbour label accuracy "not same compound" (NSC) and "not
  same compound or batch" (NSCB), the profiling benchmark of cell-painting screens, also
  defined per cell when no compound/treatment groups are given.

Labels and batches may hold any hashable values; a label that is None/NaN means "no label".
Every function raises :class:`ValueError` with one clear sentence for unusable input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_CHUNK_ELEMENTS = 1 << 23  # similarity block: at most ~8M entries (64 MB in float64) at a time


# -- input checks -------------------------------------------------------------------------------
def _matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (cells x dims), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X is empty (shape {X.shape})")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values")
    return X


def _vector(values, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{what} has {len(arr)} entries but X has {n} cells")
    return arr


def _missing(arr: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(arr), dtype=bool)


def _codes(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..m-1 for hashable values (no missing values allowed here)."""
    codes, uniques = pd.factorize(arr)
    return codes.astype(np.int64), len(uniques)


def _batch_codes(batches, n: int, *, minimum: int = 2) -> tuple[np.ndarray, int]:
    arr = _vector(batches, n, "batches")
    if _missing(arr).any():
        raise ValueError(f"batches has {int(_missing(arr).sum())} missing values; every cell needs a batch")
    codes, m = _codes(arr)
    if m < minimum:
        raise ValueError(f"batches has {m} distinct value{'s' if m != 1 else ''}; at least {minimum} are needed")
    return codes, m


def _mask(mask, n: int, what: str) -> np.ndarray:
    if mask is None:
        return np.ones(n, dtype=bool)
    arr = np.asarray(mask)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{what} must be a boolean mask of {n} entries, got shape {arr.shape}")
    if arr.dtype != bool:
        raise ValueError(f"{what} must be a boolean mask, got dtype {arr.dtype}")
    return arr


def _normalise(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


def _subsample(n: int, n_sample: int | None, seed: int) -> np.ndarray:
    if n_sample is None or n_sample >= n:
        return np.arange(n)
    if n_sample < 1:
        raise ValueError(f"n_sample must be at least 1, got {n_sample}")
    return np.sort(np.random.default_rng(seed).choice(n, size=int(n_sample), replace=False))


# -- DINO weighted kNN -------------------------------------------------------------------------
def knn_accuracy(X, labels, *, query=None, bank=None, k: int = 10, temperature: float = 0.1) -> float:
    """Accuracy of DINO's weighted kNN classifier.

    Features are L2-normalised; each query cell's ``k`` most cosine-similar bank cells vote for
    their label with weight ``exp(similarity / temperature)``; the class with the largest summed
    weight is the prediction. ``query`` and ``bank`` are boolean masks (default: every cell).
    A cell never votes for itself (with the defaults this is leave-one-out). Cells without a
    label (None/NaN) are neither queried nor in the bank. Similarities are computed in blocks of
    query rows, so memory stays bounded for tens of thousands of cells.
    """
    X = _matrix(X)
    n = X.shape[0]
    lab = _vector(labels, n, "labels")
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    valid = ~_missing(lab)
    q_idx = np.flatnonzero(_mask(query, n, "query") & valid)
    b_idx = np.flatnonzero(_mask(bank, n, "bank") & valid)
    if q_idx.size == 0:
        raise ValueError("no labelled cells to classify (query is empty)")
    codes = np.full(n, -1, dtype=np.int64)
    codes[valid], n_classes = _codes(lab[valid])
    in_bank = np.zeros(n, dtype=bool)
    in_bank[b_idx] = True
    # a query cell that is also in the bank has one bank cell fewer to choose from
    available = b_idx.size - int(in_bank[q_idx].any())
    if available < 1:
        raise ValueError("the bank holds no labelled cell other than the query cell itself")
    k_eff = min(int(k), available)

    Z = _normalise(X)
    bank_Z = Z[b_idx]
    bank_codes = codes[b_idx]
    position = np.full(n, -1, dtype=np.int64)  # a cell's column in the bank block
    position[b_idx] = np.arange(b_idx.size)
    step = max(1, _CHUNK_ELEMENTS // b_idx.size)
    correct = 0
    for start in range(0, q_idx.size, step):
        rows = q_idx[start:start + step]
        sims = Z[rows] @ bank_Z.T
        self_col = position[rows]
        has_self = self_col >= 0
        sims[np.flatnonzero(has_self), self_col[has_self]] = -np.inf
        if k_eff < sims.shape[1]:
            top = np.argpartition(-sims, k_eff - 1, axis=1)[:, :k_eff]
        else:
            top = np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        top_sims = np.take_along_axis(sims, top, axis=1)
        # exp(s / T) up to a per-row factor exp(-max / T): same argmax, no overflow for small T
        row_max = np.max(np.where(np.isfinite(top_sims), top_sims, -np.inf), axis=1, keepdims=True)
        weights = np.where(np.isfinite(top_sims), np.exp((top_sims - row_max) / temperature), 0.0)
        votes = np.zeros((rows.size, n_classes))
        np.add.at(votes, (np.repeat(np.arange(rows.size), top.shape[1]), bank_codes[top].ravel()), weights.ravel())
        correct += int((votes.argmax(axis=1) == codes[rows]).sum())
    return correct / q_idx.size


# -- kBET ------------------------------------------------------------------------------------------
def kbet(X, batches, *, k: int | None = None, alpha: float = 0.05, n_sample: int | None = None,
         seed: int = 0) -> float:
    """kBET acceptance rate: the share of tested cells whose neighbourhood is batch-mixed.

    Each tested cell's ``k`` nearest neighbours (Euclidean, the cell itself excluded; default
    ``max(5, round(0.005 * n))``) give observed batch counts; a chi-square goodness-of-fit test
    against ``k`` times the global batch proportions (``n_batches - 1`` degrees of freedom) is
    accepted when its p-value is at least ``alpha``. ``n_sample`` cells (drawn with ``seed``)
    are tested, or all cells when it is None. Higher is better mixed; 1 - this is kBET's
    rejection rate.
    """
    from scipy.stats import chi2
    from sklearn.neighbors import NearestNeighbors

    X = _matrix(X)
    n = X.shape[0]
    codes, n_batches = _batch_codes(batches, n)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if k is None:
        k = min(max(5, round(0.005 * n)), n - 1)
    k = int(k)
    if k < 1 or k > n - 1:
        raise ValueError(f"k must be between 1 and {n - 1} (cells - 1), got {k}")
    tested = _subsample(n, n_sample, seed)
    index = NearestNeighbors(n_neighbors=k + 1).fit(X)
    _, nbrs = index.kneighbors(X[tested], n_neighbors=k + 1)
    # drop the cell itself (or, if duplicates pushed it out of the list, the farthest neighbour)
    is_self = nbrs == tested[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(nbrs, dtype=bool)
    keep[np.arange(len(tested)), drop] = False
    nbrs = nbrs[keep].reshape(len(tested), k)

    proportions = np.bincount(codes, minlength=n_batches) / n
    expected = k * proportions
    observed = np.zeros((len(tested), n_batches))
    np.add.at(observed, (np.repeat(np.arange(len(tested)), k), codes[nbrs].ravel()), 1.0)
    stat = ((observed - expected) ** 2 / expected).sum(axis=1)
    p = chi2.sf(stat, df=n_batches - 1)
    return float(np.mean(p >= alpha))


# -- silhouettes -------------------------------------------------------------------------------
def batch_silhouette(X, batches, labels=None, *, n_sample: int | None = 5000, seed: int = 0) -> dict:
    """Silhouettes with batches as the clusters.

    ``silhouette_batch``: sklearn's silhouette score over batches (near 0 or below = mixed,
    towards 1 = batches apart). With ``labels``, also ``asw_batch`` (scIB): within each label,
    the per-cell batch silhouette s_i gives 1 - |s_i|; the mean over the label's cells is
    averaged over the labels present in at least 2 batches (1 = perfectly mixed; None when no
    label qualifies). Cells without a label are left out of ``asw_batch``. At most
    ``n_sample`` cells (drawn with ``seed``; None: all) are used.
    """
    from sklearn.metrics import silhouette_samples, silhouette_score

    X = _matrix(X)
    n = X.shape[0]
    codes, _ = _batch_codes(batches, n)
    lab = _vector(labels, n, "labels") if labels is not None else None
    keep = _subsample(n, n_sample, seed)
    Xs, bs = X[keep], codes[keep]
    if np.unique(bs).size < 2:
        raise ValueError("the sampled cells come from a single batch; raise n_sample")
    if np.unique(bs).size > len(keep) - 1:
        raise ValueError(f"{np.unique(bs).size} batches among {len(keep)} cells: "
                         "a silhouette needs more cells than batches")
    out = {"silhouette_batch": float(silhouette_score(Xs, bs))}
    if lab is None:
        return out
    ls = lab[keep]
    valid = ~_missing(ls)
    per_label = []
    if valid.any():
        lcodes, n_labels = _codes(ls[valid])
        Xv, bv = Xs[valid], bs[valid]
        for c in range(n_labels):
            rows = lcodes == c
            n_b = np.unique(bv[rows]).size
            if n_b < 2 or n_b > rows.sum() - 1:  # one batch only, or too few cells for a silhouette
                continue
            s = silhouette_samples(Xv[rows], bv[rows])
            per_label.append(float(np.mean(1.0 - np.abs(s))))
    out["asw_batch"] = float(np.mean(per_label)) if per_label else None
    return out


# -- NSC / NSCB ------------------------------------------------------------------------------------
def _nearest_admissible(Z: np.ndarray, unit_group: np.ndarray, unit_batch: np.ndarray | None) -> np.ndarray:
    """For each row of the L2-normalised ``Z``: index of the most cosine-similar row with a
    different group (and, when ``unit_batch`` is given, a different batch); -1 when none."""
    m = Z.shape[0]
    nearest = np.full(m, -1, dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // m)
    for start in range(0, m, step):
        rows = np.arange(start, min(m, start + step))
        sims = Z[rows] @ Z.T
        blocked = unit_group[rows][:, None] == unit_group[None, :]
        if unit_batch is not None:
            blocked |= unit_batch[rows][:, None] == unit_batch[None, :]
        sims[blocked] = -np.inf
        best = sims.argmax(axis=1)
        ok = np.isfinite(sims[np.arange(rows.size), best])
        nearest[rows[ok]] = best[ok]
    return nearest


def nsc_accuracy(X, labels, batches=None, *, groups=None) -> dict:
    """1-NN (cosine) label accuracy "not same compound" (NSC) and "not same compound or batch"
    (NSCB).

    With ``groups`` (a compound/treatment id per cell), the cells of each (group, batch) pair --
    of each group when ``batches`` is None -- are averaged into a profile, which is then
    L2-normalised; a profile's label is its group's label, which must be unique within the group.
    NSC: a profile's nearest profile of another group predicts its label. NSCB: the nearest
    profile of another group and another batch. Without ``groups`` every cell is its own unit:
    NSC is leave-one-out 1-NN accuracy and NSCB takes the nearest cell of another batch.
    Units with no admissible neighbour are skipped; cells without a label are left out.
    Returns ``{"nsc": float, "nscb": float or None}`` (``nscb`` None without batches; a value
    is None when no unit had an admissible neighbour).
    """
    X = _matrix(X)
    n = X.shape[0]
    lab = _vector(labels, n, "labels")
    bat = _vector(batches, n, "batches") if batches is not None else None
    grp = _vector(groups, n, "groups") if groups is not None else None
    if bat is not None and _missing(bat).any():
        raise ValueError("batches has missing values; every cell needs a batch")
    if grp is not None and _missing(grp).any():
        raise ValueError("groups has missing values; every cell needs a group")
    keep = ~_missing(lab)
    if keep.sum() < 2:
        raise ValueError("fewer than 2 labelled cells")
    X, lab = X[keep], lab[keep]
    bat = bat[keep] if bat is not None else None
    grp = grp[keep] if grp is not None else None
    lcodes, _ = _codes(lab)
    bcodes = None
    if bat is not None:
        bcodes, n_batches = _codes(bat)
        if n_batches < 2:
            raise ValueError(f"batches has {n_batches} distinct value among the labelled cells; NSCB needs at least 2")

    if grp is None:
        Z = _normalise(X)
        unit_group = np.arange(X.shape[0])
        unit_label, unit_batch = lcodes, bcodes
    else:
        gcodes, n_groups = _codes(grp)
        if n_groups < 2:
            raise ValueError("groups has a single value; NSC needs at least 2 groups")
        frame = pd.DataFrame({"g": gcodes, "l": lcodes})
        per_group = frame.groupby("g")["l"].nunique()
        if (per_group > 1).any():
            bad = pd.Index(pd.unique(grp))[per_group.index[per_group > 1]]
            raise ValueError(f"group {bad[0]!r} holds cells of {int(per_group.max())} different labels; "
                             "each group needs a single label")
        group_label = frame.groupby("g")["l"].first().to_numpy()
        unit_key = gcodes * (n_batches if bcodes is not None else 1) + (bcodes if bcodes is not None else 0)
        units, unit_of_cell = np.unique(unit_key, return_inverse=True)
        sums = np.zeros((units.size, X.shape[1]))
        np.add.at(sums, unit_of_cell, X)
        counts = np.bincount(unit_of_cell, minlength=units.size)
        Z = _normalise(sums / counts[:, None])
        if bcodes is not None:
            unit_group, unit_batch = units // n_batches, units % n_batches
        else:
            unit_group, unit_batch = units, None
        unit_label = group_label[unit_group]

    def accuracy(nearest: np.ndarray):
        ok = nearest >= 0
        return float(np.mean(unit_label[ok] == unit_label[nearest[ok]])) if ok.any() else None

    out = {"nsc": accuracy(_nearest_admissible(Z, unit_group, None)), "nscb": None}
    if unit_batch is not None:
        out["nscb"] = accuracy(_nearest_admissible(Z, unit_group, unit_batch))
    return out


__all__ = ["batch_silhouette", "kbet", "knn_accuracy", "nsc_accuracy"]
