"""Numeric table columns that identify (sample 3, plate 12, ImageNumber 481) rather than measure.

Clustering on such a column splits cells by sample or by row order, so a table keeps it as per-cell
metadata when its name says identifier and its values agree: whole numbers with few distinct values,
or unique consecutive whole numbers like a row index. ``--feature COL`` overrides the rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from .validate import require_columns

WORDS = frozenset({"sample", "batch", "plate", "well", "donor", "replicate", "lane", "run", "site", "field",
                   "image", "object", "id", "index"})
ENDINGS = frozenset({"id", "number", "no", "index"})
NAMES = WORDS | {w + e for w in WORDS for e in ENDINGS}  # 'imagenumber', 'sampleid' written as one word
MEASURED_NUMBERS = frozenset({"euler"})  # AreaShape_EulerNumber (CellProfiler) is a shape measurement


def name_tokens(name: str) -> list[str]:
    """``Metadata_SiteNumber`` -> ['metadata', 'site', 'number']; ``cellID`` -> ['cell', 'id']."""
    tokens = []
    for part in re.split(r"[^A-Za-z0-9]+", str(name)):
        tokens += re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", part)
    return [t.lower() for t in tokens]


def is_identifier_name(name: str) -> bool:
    """Named like an identifier or a sample/plate/image number (case-insensitive)."""
    tokens = name_tokens(name)
    if not tokens:
        return False
    last, before = tokens[-1], (tokens[-2] if len(tokens) > 1 else "")
    if "".join(tokens) in NAMES or last in WORDS - {"index"}:
        return True
    if last == "index":  # row_index, cell_index, sample_index; not ShapeIndex-like measurements
        return before in WORDS | {"row", "cell"}
    if last in ENDINGS:
        return not (last == "number" and before in MEASURED_NUMBERS)
    return False


def _describe(name: str) -> str:
    tokens = name_tokens(name)
    return " ".join(tokens) + ("" if tokens[-1] in ENDINGS else " number")


def identifier_reason(name: str, values: np.ndarray) -> str | None:
    """Why the column ``name`` with ``values`` (float, NaN where missing) is an identifier, or None."""
    if not is_identifier_name(name):
        return None
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    if present.size == 0 or not np.isfinite(present).all() or not (present == np.round(present)).all():
        return None
    distinct = np.unique(present)
    if distinct.size <= max(32, 0.05 * values.size):
        return f"integer {_describe(name)} with {distinct.size} value{'s' if distinct.size != 1 else ''}"
    if distinct.size == present.size and distinct[-1] - distinct[0] == distinct.size - 1:
        return f"unique consecutive integers {int(distinct[0])}..{int(distinct[-1])}, like a row index"
    return None


def as_metadata(values: np.ndarray) -> np.ndarray:
    """Whole numbers without gaps become int64; with missing values they stay float."""
    values = np.asarray(values, dtype=np.float64)
    return values.astype(np.int64) if not np.isnan(values).any() else values


def check_forced_features(forced, names, numeric, meta_cols, schema, path: Path) -> None:
    """Each --feature column must exist, be numeric and not be named as metadata too."""
    for col in forced:
        require_columns({"--feature": col}, names, str(path))
        if col in meta_cols:
            raise InputError(f"--feature {col!r} is also named by --meta, --label, --batch or --id",
                             "a column is either a feature or metadata; remove one of the two")
        if col not in numeric:
            raise InputError(f"--feature {col!r}: column of {path} is not numeric ({schema.field(col).type})",
                             "features must be numbers; fix the column or leave it out")


def keep_identifiers(X, features, numeric, candidates, obs):
    """Identifier-like candidates stay in ``obs`` (as whole numbers); the others rejoin the features."""
    kept, back = {}, []
    for col in candidates:
        values = np.asarray(obs[col].to_numpy(dtype=np.float64, na_value=np.nan))
        reason = identifier_reason(col, values)
        if reason is None:
            back.append(col)
        else:
            kept[col] = reason
            obs[col] = as_metadata(values)
    if back:  # rare: named like an identifier but not valued like one; one copy of X
        order = [c for c in numeric if c in features or c in back]
        full = np.empty((X.shape[0], len(order)), dtype=np.float32)
        where = {c: j for j, c in enumerate(features)}
        for j, c in enumerate(order):
            full[:, j] = X[:, where[c]] if c in where else obs.pop(c).to_numpy(dtype=np.float32, na_value=np.nan)
        X, features = full, order
    return X, features, kept
