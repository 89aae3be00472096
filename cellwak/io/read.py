"""``read``: any supported file or folder -> one validated AnnData."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

# isort: off
# each format module registers its reader on import; this order is the order of help texts
from . import tables, h5ad, tenx, hdf5, fcs, idx, images  # noqa: F401
# isort: on
from ..errors import InputError, NotFoundError, short_list
from .labels import merge_obs_file, read_labels_file
from .limits import require_regular_file, too_large
from .options import ReadOptions
from .registry import find_reader, refuse_ignored_options, supported_text
from .validate import (
    cell_ids,
    check_finite,
    check_not_empty,
    check_numeric_matrix,
    check_storable,
    check_unique_ids,
    require_columns,
)

SUPPORTED = supported_text()  # the formats registered by cellwak itself, for messages


def detect_format(path: Path) -> str:
    """The name of the format that reads ``path`` (``csv``, ``h5ad``, ``10x_h5``...)."""
    return find_reader(Path(path).expanduser()).name


def read(path, options: ReadOptions | None = None):
    """Read a data file into an AnnData: ``X`` features (or flat pixels), ``obs`` metadata,
    ``obsm['images']`` crops (N,C,H,W) for image data, ``uns['cellwak']['dataset']`` a record of
    where it came from and which columns hold labels and batches.

    The format is found by suffix and content (see :func:`cellwak.io.readers`); an option the
    format does not honour is refused rather than ignored.
    """
    opts = options or ReadOptions()
    path = Path(path).expanduser()
    if not path.exists():
        raise NotFoundError(f"no such file or folder: {path}", "check the path")
    require_regular_file(path)
    try:
        return _read(path, opts)
    except MemoryError:  # sizes a file declares are checked where it is cheap; the rest ends here
        raise too_large(path) from None


def _read(path: Path, opts: ReadOptions):
    reader = find_reader(path)
    refuse_ignored_options(opts, reader)
    loaded = reader.read(path, opts)
    adata, handled, label_key = loaded.adata, loaded.handled, loaded.label_key
    info: dict = {"format": reader.name, "source": str(path.resolve()), **loaded.info}
    check_numeric_matrix(adata, str(path))

    check_not_empty(adata.n_obs, adata.n_vars, str(path))
    if "obs_file" not in handled and opts.obs_file is not None:
        adata.obs = merge_obs_file(adata.obs, opts.obs_file, opts.id)
    labels_file = opts.labels_file if opts.labels_file is not None else loaded.labels_file
    if labels_file is not None:
        series = read_labels_file(labels_file, adata.n_obs, opts.labels_column)
        adata.obs["label"] = series.to_numpy()
        label_key = "label"
        info["labels_file"] = str(Path(labels_file).resolve())
    if "id" not in handled and opts.id is not None:
        require_columns({"--id": opts.id}, adata.obs.columns, str(path))
        adata.obs_names = cell_ids(adata.obs[opts.id], opts.id, str(path))
        info["id_key"] = opts.id
    label_option = None if "label" in handled else opts.label
    require_columns({"--label": label_option, "--batch": opts.batch}, adata.obs.columns, str(path))
    label_key = label_option or label_key
    _storable_values(adata)
    check_storable(adata, str(path))  # before labels become categories (pandas hashes text only up to a NUL)
    check_unique_ids(adata.obs_names, info.get("id_key"))

    for key, role in ((label_key, "label_key"), (opts.batch, "batch_key")):
        if key is not None:
            adata.obs[key] = _categorical(adata.obs[key])
            info[role] = key
    if opts.unlabeled:
        if label_key is None:
            raise InputError("--unlabeled was given but the dataset has no labels",
                             "name the label column with --label or give --labels FILE")
        info["unlabeled"] = list(opts.unlabeled)
    if "images" in adata.obsm:
        info["image_shape"] = list(adata.obsm["images"].shape[1:])
    adata = check_finite(adata, opts.drop_nonfinite, str(path))
    renamed = _storable_column_names(adata, info)
    if renamed:
        info["renamed_columns"] = renamed
    own = adata.uns.get("cellwak")
    own = dict(own) if isinstance(own, Mapping) else {}  # a file's own entry of another shape is replaced
    dataset = own.get("dataset")
    own["dataset"] = {**(dict(dataset) if isinstance(dataset, Mapping) else {}), **info}
    adata.uns["cellwak"] = own
    return adata


def _storable_values(adata) -> None:
    """obs columns of Python objects hold text and gaps only (AnnData writes nothing else):
    any other value (a number or date among text) becomes its text."""
    for col in adata.obs.columns:
        values = adata.obs[col]
        if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            continue
        adata.obs[col] = [v if v is None or isinstance(v, str) or (isinstance(v, float) and np.isnan(v)) else str(v)
                          for v in values]


def _storable_column_names(adata, info: dict) -> dict:
    """obs column names with '/' (which .h5ad stores as nested groups, and AnnData will refuse)
    get '_' instead; the keys in ``info`` follow. Returns {old: new}."""
    renamed = {}
    taken = {str(c) for c in adata.obs.columns}
    for col in adata.obs.columns:
        if isinstance(col, str) and "/" in col:
            new = col.replace("/", "_")
            while new in taken:
                new += "_"
            taken.add(new)
            renamed[col] = new
    if renamed:
        adata.obs = adata.obs.rename(columns=renamed)
        for role in ("label_key", "batch_key", "id_key"):
            if info.get(role) in renamed:
                info[role] = renamed[info[role]]
    return renamed


def _categorical(series: pd.Series) -> pd.Categorical:
    """Labels and batches are categories, stored as strings; numbers sort numerically."""
    if isinstance(series.dtype, pd.CategoricalDtype) and series.cat.categories.dtype == object:
        blank = [c for c in series.cat.categories if not str(c).strip()]
        return series.cat.remove_categories(blank).cat.remove_unused_categories() if blank \
            else series.cat.remove_unused_categories()
    values = series.to_numpy()
    as_str = series.astype(str).to_numpy(dtype=object)
    missing = pd.isna(values) | (pd.Series(as_str).str.strip() == "").to_numpy()  # blank: no label
    as_str = np.where(missing, None, as_str)
    cats = pd.unique(pd.Series(as_str[~missing]))
    try:
        cats = sorted(cats, key=float)
    except (TypeError, ValueError):
        cats = sorted(cats)
    return pd.Categorical(as_str, categories=cats)


def label_summary(adata) -> dict:
    """Counts of each label and batch value, for ``data show``; cells without a value are counted
    apart (``missing``), not as a class."""
    info = adata.uns.get("cellwak", {}).get("dataset", {})
    out = {}
    for role in ("label_key", "batch_key"):
        key = info.get(role)
        if key and key in adata.obs:
            values = adata.obs[key]
            counts = values.value_counts(dropna=True)
            part = {"column": key, "counts": {str(k): int(v) for k, v in counts.items() if str(k).strip()}}
            missing = int(values.isna().sum()) + int(sum(int(v) for k, v in counts.items() if not str(k).strip()))
            if missing:
                part["missing"] = missing
            out[role.removesuffix("_key")] = part
    return out


def labelled_mask(adata) -> tuple[np.ndarray | None, np.ndarray]:
    """(labels or None, mask of cells with a real label): a missing or blank label and the
    ``unlabeled`` values are no label."""
    info = adata.uns.get("cellwak", {}).get("dataset", {})
    key = info.get("label_key")
    if not key or key not in adata.obs:
        return None, np.zeros(adata.n_obs, dtype=bool)
    labels = adata.obs[key]
    text = labels.astype(str)
    unlabeled = set(info.get("unlabeled", []))
    mask = labels.notna().to_numpy() & ~text.isin(unlabeled).to_numpy() & (text.str.strip() != "").to_numpy()
    return text.to_numpy(), mask


__all__ = ["read", "detect_format", "SUPPORTED", "label_summary", "labelled_mask", "short_list"]
