"""Checks every dataset passes before it enters the workspace."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError, short_list


def nonfinite_rows(X) -> np.ndarray:
    """Boolean mask of rows holding NaN or inf (only float data can)."""
    import scipy.sparse as sp

    if sp.issparse(X):
        X = X.tocsr()
        bad_values = ~np.isfinite(X.data)
        rows = np.zeros(X.shape[0], dtype=bool)
        if bad_values.any():
            row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            rows[row_of[bad_values]] = True
        return rows
    if not np.issubdtype(X.dtype, np.floating):
        return np.zeros(X.shape[0], dtype=bool)
    out = np.zeros(X.shape[0], dtype=bool)
    step = max(1, 2**24 // max(1, int(np.prod(X.shape[1:]))))
    for start in range(0, X.shape[0], step):  # blocks: no full-size boolean temporary
        block = X[start:start + step]
        out[start:start + step] = ~np.isfinite(block.reshape(block.shape[0], -1)).all(axis=1)
    return out


def check_finite(adata, drop: bool, source: str):
    """Refuse (or with ``drop``, remove) cells whose features are NaN or inf."""
    images = adata.obsm.get("images") if "images" in adata.obsm else None
    bad = nonfinite_rows(adata.X) if adata.X is not None else np.zeros(adata.n_obs, bool)
    if images is not None:
        bad |= nonfinite_rows(images)
    if not bad.any():
        return adata
    if drop:
        if bad.all():
            raise InputError(f"every cell of {source} has NaN or inf values",
                             "nothing would be left after --drop-nonfinite; fix the file")
        kept = adata[~bad].copy()
        kept.uns.setdefault("cellwak", {}).setdefault("dataset", {})["dropped_nonfinite"] = int(bad.sum())
        return kept
    rows = np.flatnonzero(bad)
    where = ""
    if adata.X is not None and not hasattr(adata.X, "tocsr") and adata.X.ndim == 2 and images is None:
        cols = np.flatnonzero(~np.isfinite(np.asarray(adata.X[rows[:1000]], dtype=np.float64)).all(axis=0))
        where = f" in columns {short_list(adata.var_names[cols])}"
    raise InputError(
        f"{source} has NaN or inf values in {len(rows)} cells (rows {short_list(rows + 1)}){where}",
        "fix the file, or pass --drop-nonfinite to leave those cells out")


def check_unique_ids(ids: pd.Index, column: str | None):
    if ids.is_unique:
        return
    counts = ids.value_counts()
    dup = counts[counts > 1]
    what = f"column '{column}'" if column else "the cell IDs"
    raise InputError(
        f"{what} has {len(dup)} duplicated IDs ({short_list(f'{k!s} x{v}' for k, v in dup.items())})",
        "IDs must be unique; choose another --id column or deduplicate the file")


def check_not_empty(n_obs: int, n_vars: int, source: str):
    if n_obs == 0:
        raise InputError(f"{source} has no cells (no data rows)", "check that the file is complete")
    if n_vars == 0:
        raise InputError(f"{source} has no features", "check that the file is complete")


def require_columns(wanted: dict[str, str | None], available, source: str):
    """Each option (``--label``) must name a column that exists."""
    available = list(available)
    for option, column in wanted.items():
        if column is not None and column not in available:
            raise InputError(f"{option} {column!r}: no such column in {source}",
                             f"available columns: {short_list(available, 12)}")
