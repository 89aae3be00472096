"""``dewak``: choose the number of PCs d and of neighbours k by the noise2self loss (DEWAK).

DEWAK (DeePWAK.jl, shared methods/deepwak.md 1.7; DEWAKSS, Tjarnberg et al. 2021): scale the
input X (n cells x m features), take its PCA, and for each (d, k) let S_d be the inverse
Euclidean distance on the first d PCs with a zero diagonal and G_k the directed kNN graph (row i
lists i's k nearest neighbours). The kernel W = WAK(G_k . S_d) (columns, or rows, sum to one)
predicts every cell from its neighbours only, X_hat = W X, so the loss

    L(d, k) = mean over cells and features of (X - W X)^2

is a self-supervised (J-invariant) denoising loss. The chosen (d, k) is its argmin over the
evaluated pairs; the mean predictor (every cell predicted by the mean cell) is the baseline a
useful graph must beat.

Writes into ``adata``:
    uns['cellwak_dewak']       {'d', 'k', 'loss', 'baseline_loss', 'n_evaluated', 'n_knn',
                                'evaluated': {'d', 'k', 'loss'} arrays of every evaluated pair,
                                'variance_ratio': explained variance of the PCs, 'params': {...}}
    uns['cellwak']['dewak']    provenance: parameters, seed, versions, threads, device, time
Nothing else changes (``obsm['X_cellwak_pca']`` of ``cellwak cluster`` is left alone: DEWAK's PCA is of
differently scaled data).

Caveat (measured, see tests/test_dewak.py): the kernel never reads x_i to predict x_i, but which
neighbours cell i gets depends on x_i, noise included. Past the signal's dimensions, extra PCs are
mostly noise, and cells then pick neighbours that share their noise, so L(d, k) keeps creeping
down with d while the error against the noise-free signal rises. Read the chosen d as "at least
this many"; the elbow of min_k L(d, k) over d is the signal's dimension.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import provenance
from ..choices import DEWAK_SCALINGS, DEWAK_SEARCHES
from ..errors import InputError, short_list
from ..progress import NULL
from . import _dewak_search as strategies
from ._dewak_dask import open_table
from ._dewak_julia import JuliaLossTable, backend_params, check_backend
from ._dewak_knn import KNN_METHODS
from ._dewak_loss import NORMS, mean_predictor_loss

KEY = "cellwak_dewak"
SEARCHES = DEWAK_SEARCHES
SCALINGS = DEWAK_SCALINGS
GRID_MAX_CELLS = 5_000       # auto: the full grid up to here, golden-section search over d above
D_MAX_CAP = 50               # default d_max: PCs up to 99 % of the variance, at most this many
VARIANCE_KEPT = 0.99


@dataclass
class DewakResult:
    d: int
    k: int
    loss: float
    baseline_loss: float
    table: pd.DataFrame                 # every evaluated (d, k, loss), sorted by d then k
    search: str                         # the strategy that ran (auto resolved)
    n_knn: int                          # neighbour searches run (one per d visited)
    params: dict
    details: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def n_evaluated(self) -> int:
        return len(self.table)

    def loss_matrix(self) -> pd.DataFrame:
        """L(d, k) as a d x k table (NaN where a pair was not evaluated)."""
        return self.table.pivot(index="d", columns="k", values="loss")


def check_options(*, d_max: int | None = None, k_max: int = 100, search: str = "auto", norm: str = "col",
                  scaling: str = "sample", d_values=None, knn_method: str = "auto") -> None:
    """The checks that need neither the data nor the workspace (a CLI runs them first)."""
    if search not in SEARCHES:
        raise InputError(f"unknown search {search!r}", f"choose one of {short_list(SEARCHES)}")
    if norm not in NORMS:
        raise InputError(f"unknown kernel normalisation {norm!r}",
                         "choose col (columns sum to 1, the DeePWAK default) or row (a weighted average)")
    if scaling not in SCALINGS:
        raise InputError(f"unknown scaling {scaling!r}", f"choose one of {short_list(SCALINGS)}")
    if knn_method not in KNN_METHODS:
        raise InputError(f"unknown kNN method {knn_method!r}", f"choose one of {short_list(KNN_METHODS)}")
    if d_max is not None and d_max < 1:
        raise InputError(f"--d-max must be at least 1, got {d_max}", "use e.g. --d-max 50, or leave it out")
    if k_max < 1:
        raise InputError(f"--k-max must be at least 1, got {k_max}", "use e.g. --k-max 100")
    if d_values is not None:
        values = list(d_values)
        if not values or min(values) < 1:
            raise InputError("the list of d values must hold positive integers", "give e.g. 2,5,10,20")
        if d_max is not None and max(values) > d_max:
            raise InputError(f"a d value ({max(values)}) is larger than --d-max {d_max}", "raise --d-max or drop it")


def check_params(n_obs: int, **options) -> None:
    """:func:`check_options` plus what depends on the number of cells."""
    check_options(**options)
    k_max = options.get("k_max", 100)
    if k_max >= n_obs:
        raise InputError(f"--k-max {k_max} is not smaller than the number of cells ({n_obs})",
                         f"choose --k-max below {n_obs}")


def input_matrix(adata, rep: str | None = None) -> tuple[np.ndarray, str]:
    """The matrix DEWAK predicts: the features X (default) or an embedding in ``obsm``."""
    import scipy.sparse as sp

    if rep in (None, "X"):
        X = adata.X
        if X is None and "images" in adata.obsm:
            X = np.asarray(adata.obsm["images"]).reshape(adata.n_obs, -1)
        if X is None:
            raise InputError("this dataset has no feature matrix X", "name an embedding with --rep")
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
        return X.astype(np.float64), "X"
    if rep not in adata.obsm or rep == "images":
        available = [k for k in adata.obsm.keys() if k != "images"] + ["X"]
        raise InputError(f"no representation {rep!r} in this dataset", f"choose one of {short_list(available)}")
    X = np.asarray(adata.obsm[rep], dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"representation {rep!r} has shape {X.shape}", "it must be cells x dimensions")
    return X, rep


def scale(X: np.ndarray, scaling: str) -> np.ndarray:
    """sample: each cell divided by its largest |value| (DeePWAK V2/V3, the default);
    feature: each feature divided by its largest |value| (V0, into [-1, 1]);
    standard: each feature to zero mean, unit variance; none: as is."""
    X = np.array(X, dtype=np.float64, copy=True)
    if scaling in ("sample", "feature"):
        axis = 1 if scaling == "sample" else 0
        top = np.abs(X).max(axis=axis, keepdims=True)
        top[top == 0] = 1.0
        X /= top
    elif scaling == "standard":
        X -= X.mean(axis=0)
        std = X.std(axis=0)
        X /= np.where(std > 0, std, 1.0)
    elif scaling != "none":
        raise InputError(f"unknown scaling {scaling!r}", f"choose one of {short_list(SCALINGS)}")
    return X


def dewak(adata, *, d_max: int | None = None, k_max: int = 100, search: str = "auto", norm: str = "col",
          scaling: str = "sample", use_rep: str | None = None, random_state: int = 0, d_values=None, start=(6, 6),
          window=(5, 5), max_steps: int = 100, max_d: int = 8, knn_method: str = "auto", backend: str = "python",
          progress=NULL) -> DewakResult:
    """Choose (d, k) for ``adata`` by the noise2self loss of the DEWAK kernel.

    d_max      largest number of PCs; default: the PCs explaining 99 % of the variance (the
               reference's PCA), at most 50.
    k_max      largest number of neighbours (< number of cells).
    search     grid (every d in 1..d_max, or ``d_values``, x every k), coordinate (DeePWAK.jl's
               windowed search from ``start`` with ``window``, ``max_steps``), golden (golden-
               section search over d, at most ``max_d`` neighbour searches), auto (grid up to
               5,000 cells, golden above).
    norm       col (each column of the kernel sums to 1; DeePWAK) or row (weighted average).
    scaling    sample (each cell / its max |value|; reference), feature, standard or none.
    use_rep    predict an embedding in ``obsm`` instead of the features.
    random_state  PCA's and HNSW's seed.
    d_values   the d of the grid (default 1..d_max).
    start, window, max_steps   the coordinate search's (d0, k0), (w_d, w_k) and step limit.
    max_d      the golden-section search's budget of neighbour searches.
    knn_method auto (the package rule: exact up to 50,000 cells, HNSW with a repair step above), exact or hnsw.
    backend    python (torch) or julia: the kNN search (exact), the kernel and the loss of every
               (d, k) in CellWAK.jl (:mod:`._dewak_julia`; the Julia version goes into the provenance).
    progress   a reporter (:mod:`cellwak.progress`).
    """
    check_params(adata.n_obs, d_max=d_max, k_max=k_max, search=search, norm=norm, scaling=scaling,
                 d_values=d_values, knn_method=knn_method)
    check_backend(backend, knn_method)
    provenance.seed_everything(random_state)
    t0 = time.perf_counter()
    raw, rep_name = input_matrix(adata, use_rep)
    if not np.isfinite(raw).all():
        raise InputError(f"the {rep_name} matrix holds NaN or infinite values", "remove or impute them first")
    keep = np.abs(raw).sum(axis=0) > 0      # all-zero features carry nothing (the reference drops them)
    if not keep.any():
        raise InputError(f"every feature of {rep_name} is zero", "nothing to denoise")
    X = scale(raw[:, keep], scaling)
    n, m = X.shape

    with progress.task("PCA", total=1) as task:
        embedding, ratio, d_max, d_rule = _pca(X, d_max, d_values, random_state)
        task.advance()
    t_pca = time.perf_counter() - t0

    resolved = search if search != "auto" else ("grid" if n <= GRID_MAX_CELLS else "golden")
    # here, or on the Dask cluster of _distributed.scheduler (the same losses)
    table = (JuliaLossTable(X, embedding, k_max, norm=norm, seed=random_state, progress=progress) if backend == "julia"
             else open_table(X, embedding, k_max, norm=norm, knn_method=knn_method, seed=random_state, progress=progress))
    t = time.perf_counter()
    try:
        if resolved == "grid":
            values = sorted(set(int(v) for v in d_values)) if d_values is not None else list(range(1, d_max + 1))
            details = strategies.grid(table, values, progress)
        elif resolved == "coordinate":
            details = strategies.coordinate(table, d_max, progress, start=start, window=window, max_steps=max_steps)
        else:
            details = strategies.golden(table, d_max, progress, max_d=max_d)
    finally:
        table.close()
    t_search = time.perf_counter() - t
    best_d, best_k, best_loss = table.best()
    baseline = mean_predictor_loss(X)
    total = time.perf_counter() - t0

    frame = table.frame()
    timings = {"pca": t_pca, "knn": table.seconds["knn"], "loss": table.seconds["loss"], "search": t_search,
               "total": total}
    timings = {key: round(value, 3) for key, value in timings.items()}
    params = {"d_max": int(d_max), "d_max_rule": d_rule, "k_max": int(k_max), "search": search,
              "search_resolved": resolved, "norm": norm, "scaling": scaling, "rep": rep_name, "seed": int(random_state),
              "knn": table.knn_method, "knn_repaired_cells": int(sum(table.repaired.values())),
              "n_cells": int(n), "n_features": int(m),
              "dropped_zero_features": int((~keep).sum()), "kernel": f"WAK_{norm}(kNN_k(d) * inverse distance)",
              "loss": "MSE(X, W X) over all cells and features", "self_neighbour": "excluded",
              **backend_params(backend)}
    record = provenance.record("dewak", {**params, **_storable(details)}, seed=random_state, device="cpu", seconds=total)
    adata.uns[KEY] = {
        "d": int(best_d), "k": int(best_k), "loss": float(best_loss), "baseline_loss": float(baseline),
        "n_evaluated": int(len(frame)), "n_knn": int(table.n_knn),
        "evaluated": {"d": frame["d"].to_numpy(np.int32), "k": frame["k"].to_numpy(np.int32),
                      "loss": frame["loss"].to_numpy(np.float64)},
        "variance_ratio": np.asarray(ratio, dtype=np.float32),
        "params": params, "search": _storable(details), "timings": timings,
    }
    adata.uns.setdefault("cellwak", {})["dewak"] = record
    return DewakResult(d=int(best_d), k=int(best_k), loss=float(best_loss), baseline_loss=float(baseline),
                       table=frame, search=resolved, n_knn=table.n_knn, params=params, details=details,
                       timings=timings, provenance=record)


def _pca(X: np.ndarray, d_max: int | None, d_values, seed: int):
    """(PCs, explained variance ratio, d_max, how d_max was chosen)."""
    from ..pp.representation import pca

    n, m = X.shape
    available = min(n - 1, m)
    wanted = max(d_values) if d_values is not None and d_max is None else d_max
    if wanted is not None and wanted > available:
        raise InputError(f"d = {wanted} PCs asked for, but these data have only {available} "
                         f"({n} cells, {m} non-zero features)", f"choose --d-max {available} or less")
    if wanted is not None:
        scores, _, ratio = pca(X, wanted, seed)
        return scores, ratio, int(wanted), "given"
    scores, _, ratio = pca(X, min(D_MAX_CAP, available), seed)
    reached = np.nonzero(np.cumsum(ratio) >= VARIANCE_KEPT)[0]
    d_max = int(reached[0] + 1) if reached.size else scores.shape[1]
    rule = (f"PCs explaining {VARIANCE_KEPT:.0%} of the variance" if reached.size
            else f"{VARIANCE_KEPT:.0%} of the variance needs more than {scores.shape[1]} PCs: capped")
    return scores[:, :d_max], ratio[:d_max], d_max, rule


def _storable(details: dict) -> dict:
    """Search details in a form h5ad can store (lists of numbers become arrays)."""
    out = {}
    for key, value in details.items():
        if isinstance(value, (list, tuple)):
            out[key] = np.asarray(value, dtype=np.int64)
        elif isinstance(value, (bool, np.bool_)):
            out[key] = bool(value)
        else:
            out[key] = value
    return out
