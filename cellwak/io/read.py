"""``read``: any supported file or folder -> one validated AnnData."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# isort: off
# each format module registers its reader on import; this order is the order of help texts
from . import tables, h5ad, tenx, hdf5, fcs, idx, images  # noqa: F401
# isort: on
from ..errors import InputError, NotFoundError, short_list
from .labels import merge_obs_file, read_labels_file
from .options import ReadOptions
from .registry import find_reader, refuse_ignored_options, supported_text
from .validate import check_finite, check_not_empty, check_unique_ids, require_columns

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
    reader = find_reader(path)
    refuse_ignored_options(opts, reader)
    loaded = reader.read(path, opts)
    adata, handled, label_key = loaded.adata, loaded.handled, loaded.label_key
    info: dict = {"format": reader.name, "source": str(path.resolve()), **loaded.info}

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
        adata.obs_names = adata.obs[opts.id].astype(str).to_numpy()
        info["id_key"] = opts.id
    label_option = None if "label" in handled else opts.label
    require_columns({"--label": label_option, "--batch": opts.batch}, adata.obs.columns, str(path))
    label_key = label_option or label_key
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
    adata.uns.setdefault("cellwak", {})
    adata.uns["cellwak"].setdefault("dataset", {}).update(info)
    return adata


def _categorical(series: pd.Series) -> pd.Categorical:
    """Labels and batches are categories, stored as strings; numbers sort numerically."""
    if isinstance(series.dtype, pd.CategoricalDtype) and series.cat.categories.dtype == object:
        return series.cat.remove_unused_categories()
    values = series.to_numpy()
    missing = pd.isna(values)
    as_str = np.where(missing, None, series.astype(str).to_numpy())
    cats = pd.unique(pd.Series(as_str[~missing]))
    try:
        cats = sorted(cats, key=float)
    except (TypeError, ValueError):
        cats = sorted(cats)
    return pd.Categorical(as_str, categories=cats)


def label_summary(adata) -> dict:
    """Counts of each label and batch value, for ``data show``."""
    info = adata.uns.get("cellwak", {}).get("dataset", {})
    out = {}
    for role in ("label_key", "batch_key"):
        key = info.get(role)
        if key and key in adata.obs:
            counts = adata.obs[key].value_counts(dropna=False)
            out[role.removesuffix("_key")] = {"column": key, "counts": {str(k): int(v) for k, v in counts.items()}}
    return out


def labelled_mask(adata) -> tuple[np.ndarray | None, np.ndarray]:
    """(labels or None, mask of cells with a real label) honouring ``unlabeled`` values."""
    info = adata.uns.get("cellwak", {}).get("dataset", {})
    key = info.get("label_key")
    if not key or key not in adata.obs:
        return None, np.zeros(adata.n_obs, dtype=bool)
    labels = adata.obs[key]
    unlabeled = set(info.get("unlabeled", []))
    mask = labels.notna().to_numpy() & ~labels.astype(str).isin(unlabeled).to_numpy()
    return labels.astype(str).to_numpy(), mask


__all__ = ["read", "detect_format", "SUPPORTED", "label_summary", "labelled_mask", "short_list"]
