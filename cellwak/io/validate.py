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


def cell_ids(values, column: str, source: str) -> np.ndarray:
    """The values of the ID column ``column`` as strings. A missing or blank ID is refused (it
    would become the ID 'None' or 'nan'); whole-number floats lose their '.0'."""
    series = pd.Series(np.asarray(values, dtype=object) if isinstance(values, pd.Categorical) else values)
    series = series.reset_index(drop=True)
    missing = series.isna().to_numpy()
    if series.dtype.kind == "f" and not missing.any() and np.isfinite(series).all() \
            and (series == np.round(series)).all():
        series = series.astype(np.int64)
    text = series.astype(str).to_numpy(dtype=object)
    blank = missing | (pd.Series(text).str.strip() == "").to_numpy()
    if blank.any():
        rows = np.flatnonzero(blank) + 1
        raise InputError(f"the ID column '{column}' of {source} is empty in {len(rows)} row"
                         f"{'s' if len(rows) > 1 else ''} ({short_list(rows)})",
                         "give every cell an ID, or leave out --id (cells are then numbered)")
    return text


def _first_bad_text(values) -> tuple[int, str] | None:
    """(position, reason) of the first text value an .h5ad file cannot hold: a NUL character or
    an unpaired surrogate (no UTF-8 encoding); None when all are fine."""
    values = np.asarray(values, dtype=object).ravel()
    strings = {v for v in values if isinstance(v, str)}  # not pd.unique: it hashes text only up to a NUL
    joined = "\x1f".join(strings)
    try:
        joined.encode("utf-8")
        if "\x00" not in joined:
            return None
    except UnicodeEncodeError:
        pass
    for i, v in enumerate(values):  # rare: find the culprit in order
        if isinstance(v, str):
            if "\x00" in v:
                return i, "a NUL character"
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return i, "an invalid (unpaired surrogate) character"
    return None


def check_storable(adata, source: str) -> None:
    """Refuse what an .h5ad file cannot store: an obs column named '_index' (AnnData reserves
    it) and text holding NUL characters or invalid code points (a binary or damaged file)."""
    fix = "the file is damaged or binary; remove those characters or export the data again"
    for col in adata.obs.columns:
        if str(col) == "_index":
            raise InputError(f"{source} has a per-cell column named '_index', a name AnnData reserves",
                             "rename that column")
    bad = _first_bad_text([str(c) for c in adata.obs.columns])
    if bad is not None:
        raise InputError(f"a per-cell column name of {source} holds {bad[1]} ({str(adata.obs.columns[bad[0]])!r})", fix)
    for what, index in (("cell ID", adata.obs_names), ("feature name", adata.var_names)):
        bad = _first_bad_text(index)
        if bad is not None:
            raise InputError(f"{what} {bad[0] + 1} of {source} holds {bad[1]} ({index[bad[0]]!r})", fix)
    for col in adata.obs.columns:
        values = adata.obs[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            bad = _first_bad_text(values.cat.categories)
            if bad is not None:
                row = int(np.flatnonzero(values.cat.codes.to_numpy() == bad[0])[0]) if (values.cat.codes == bad[0]).any() else 0
                raise InputError(f"column '{col}' of {source} holds {bad[1]} in row {row + 1}", fix)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            bad = _first_bad_text(values.to_numpy(dtype=object))
            if bad is not None:
                raise InputError(f"column '{col}' of {source} holds {bad[1]} in row {bad[0] + 1}", fix)


def check_numeric_matrix(adata, source: str) -> None:
    """X (and obsm['images']) must hold real numbers: text, objects or complex values are no features."""
    for what, values in (("X", adata.X), ("obsm['images']", adata.obsm.get("images") if "images" in adata.obsm else None)):
        dtype = getattr(values, "dtype", None)
        if values is not None and (dtype is None or dtype.kind not in "biuf"):
            raise InputError(f"{what} of {source} holds {dtype if dtype is not None else type(values).__name__} values, "
                             "not real numbers", "store the features (or pixels) as a numeric matrix")
