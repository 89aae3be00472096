"""``read``: any supported file or folder -> one validated AnnData."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, NotFoundError, short_list
from .idx import idx_images_in, is_idx, read_idx, sibling_labels
from .images import IMAGE_SUFFIXES, image_anndata, read_array_file, read_image_folder
from .labels import merge_obs_file, read_labels_file
from .options import ReadOptions
from .validate import check_finite, check_not_empty, check_unique_ids, require_columns

FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".h5ad": "h5ad", ".fcs": "fcs", ".npz": "npz", ".npy": "npz",
}
SUPPORTED = ("CSV/TSV (.csv .tsv .txt, optionally .gz), Parquet, .h5ad, FCS, .npz/.npy image or "
             "feature arrays, MNIST idx files, or a folder of per-cell TIFF/PNG images")


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "idx" if idx_images_in(path) else "folder"
    if is_idx(path):
        return "idx"
    name = path.name.lower()
    suffix = Path(name[:-3]).suffix if name.endswith(".gz") else path.suffix.lower()
    if name.endswith(".gz") and FORMATS.get(suffix) != "csv":
        suffix = ".gz"
    fmt = FORMATS.get(suffix)
    if fmt is None:
        hint = " (a single image is not a dataset: point to its folder)" if suffix in IMAGE_SUFFIXES else ""
        raise InputError(f"unsupported file type '{suffix or path.name}'{hint}", f"cellwak reads {SUPPORTED}")
    return fmt


def read(path, options: ReadOptions | None = None):
    """Read a data file into an AnnData: ``X`` features (or flat pixels), ``obs`` metadata,
    ``obsm['images']`` crops (N,C,H,W) for image data, ``uns['cellwak']['dataset']`` a record of
    where it came from and which columns hold labels and batches.
    """
    opts = options or ReadOptions()
    path = Path(path).expanduser()
    if not path.exists():
        raise NotFoundError(f"no such file or folder: {path}", "check the path")
    fmt = detect_format(path)
    info: dict = {"format": fmt, "source": str(path.resolve())}
    label_key = None

    if fmt in ("csv", "parquet"):
        external = _obs_file_columns(opts.obs_file)
        adata, id_col = _table_anndata(path, fmt, opts, external)
        if id_col:
            info["id_key"] = id_col
    elif fmt == "h5ad":
        adata = _read_h5ad(path, opts)
    elif fmt == "fcs":
        from .fcs import read_fcs
        import anndata as ad

        X, var = read_fcs(path, opts.arcsinh)
        adata = ad.AnnData(X=X, var=var, obs=pd.DataFrame(index=pd.RangeIndex(X.shape[0]).astype(str)))
        if opts.arcsinh:
            info["arcsinh_cofactor"] = float(opts.arcsinh)
    elif fmt == "npz":
        kind, (data, obs, extra) = read_array_file(path, opts.channels_last)
        info.update(extra)
        if kind == "images":
            adata = image_anndata(data, obs)
        else:
            import anndata as ad

            adata = ad.AnnData(X=np.asarray(data), obs=obs,
                               var=pd.DataFrame(index=[f"f{j}" for j in range(data.shape[1])]))
        label_key = "label" if "label" in obs else None
    elif fmt == "idx":
        images_path = idx_images_in(path) if path.is_dir() else path
        if images_path is None:
            raise InputError(f"{path}: no single *-images-idx3-ubyte file in this folder", "point to the images file")
        arr = read_idx(images_path)
        if arr.ndim not in (3, 4):
            raise InputError(f"{images_path} holds an array of shape {arr.shape}, not images",
                             "pass the images file (idx3), and its labels with --labels")
        adata = image_anndata(arr[:, None] if arr.ndim == 3 else np.ascontiguousarray(arr))
        sib = sibling_labels(images_path)
        if sib is not None and opts.labels_file is None:
            opts = _replace(opts, labels_file=sib)
        info["source"] = str(images_path.resolve())
    else:  # folder
        images, obs = read_image_folder(path)
        adata = image_anndata(images, obs)
        label_key = "label" if "label" in obs else None

    check_not_empty(adata.n_obs, adata.n_vars, str(path))
    if fmt not in ("csv", "parquet") and opts.obs_file is not None:
        adata.obs = merge_obs_file(adata.obs, opts.obs_file, opts.id)
    if opts.labels_file is not None:
        series = read_labels_file(opts.labels_file, adata.n_obs, opts.labels_column)
        adata.obs["label"] = series.to_numpy()
        label_key = "label"
        info["labels_file"] = str(Path(opts.labels_file).resolve())
    if fmt not in ("csv", "parquet", "h5ad") and opts.id is not None:
        require_columns({"--id": opts.id}, adata.obs.columns, str(path))
        adata.obs_names = adata.obs[opts.id].astype(str).to_numpy()
        info["id_key"] = opts.id
    require_columns({"--label": opts.label, "--batch": opts.batch}, adata.obs.columns, str(path))
    label_key = opts.label or label_key
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


def _replace(opts: ReadOptions, **changes) -> ReadOptions:
    from dataclasses import replace

    return replace(opts, **changes)


def _obs_file_columns(obs_file) -> tuple[str, ...]:
    if obs_file is None:
        return ()
    from .tables import read_obs_table

    return tuple(read_obs_table(Path(obs_file).expanduser()).columns)


def _table_anndata(path: Path, fmt: str, opts: ReadOptions, external_columns):
    import anndata as ad

    from .tables import read_table

    X, features, obs, id_col = read_table(path, fmt, opts, external_columns)
    check_not_empty(X.shape[0], X.shape[1], str(path))
    if id_col is not None and id_col in obs:
        ids = obs.pop(id_col).astype(str)
        obs.index = pd.Index(ids.to_numpy())
        check_unique_ids(obs.index, id_col)
    else:
        obs.index = pd.RangeIndex(X.shape[0]).astype(str)
    if opts.obs_file is not None:
        obs = merge_obs_file(obs, opts.obs_file, id_col)
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=pd.Index(features, dtype=str)))
    return adata, id_col


def _read_h5ad(path: Path, opts: ReadOptions):
    import anndata as ad

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete .h5ad file")
    try:
        with warnings.catch_warnings():  # old files: format notices that users cannot act on
            warnings.filterwarnings("ignore", module="anndata")
            warnings.simplefilter("ignore", FutureWarning)
            adata = ad.read_h5ad(path)
    except Exception as exc:  # h5py/anndata raise OSError, KeyError, ValueError... for damaged files
        raise InputError(f"cannot read {path} as .h5ad ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})",
                         "the file is corrupt or truncated; write it again with anndata") from None
    if adata.X is None and "images" not in adata.obsm:
        raise InputError(f"{path} has no X matrix", "store the features in X")
    if opts.id is not None:
        require_columns({"--id": opts.id}, adata.obs.columns, str(path))
        adata.obs_names = adata.obs[opts.id].astype(str).to_numpy()
    if "images" in adata.obsm and adata.obsm["images"].ndim == 4 and adata.X is None:
        adata.X = adata.obsm["images"].reshape(adata.n_obs, -1)
    if adata.X is not None and hasattr(adata.X, "dtype") and adata.X.dtype == np.float64:
        adata.X = adata.X.astype(np.float32)
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
