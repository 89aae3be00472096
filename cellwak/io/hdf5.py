"""Plain HDF5 matrices: a cells x features dataset ``X`` and optional labels, the layout of the
deep-clustering scRNA benchmarks (scDeepCluster and scziDesk files hold ``X`` and ``Y``).

``X`` is a dense 2-D dataset, or a group holding CSR ``data``/``indices``/``indptr`` and ``shape``.
Labels come from the dataset named by ``--label``, else from ``Y``, ``y``, ``label``, ``labels`` or
``cell_type``. Cell and gene names are used when a dataset of the right length holds them; other
1-D datasets with one value per cell become ``obs`` columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, short_list
from .h5files import (
    READ_ERRORS,
    damaged,
    dataset_names,
    decode_strings,
    is_text,
    key_text,
    open_hdf5,
    unique_names,
)
from .options import COMMON_OPTIONS, ReadOptions
from .registry import Loaded, register_reader

WHAT = "an HDF5 matrix file"
LABEL_NAMES = ("Y", "y", "label", "labels", "cell_type")
CELL_NAMES = ("obs_names", "cell_names", "barcodes", "cells", "cell_ids")
GENE_NAMES = ("var_names", "gene_names", "genes", "features")


def _sparse_x(group, path: Path):
    import scipy.sparse as sp

    missing = [k for k in ("data", "indices", "indptr") if k not in group]
    shape = group.attrs.get("shape", group["shape"][()] if "shape" in group else None)
    if missing or shape is None:
        raise InputError(f"'X' of {path} is a group without a sparse matrix (missing "
                         f"{short_list(missing + ([] if shape is not None else ['shape']))})",
                         "store X as a dense cells x features dataset, or as CSR data/indices/indptr/shape")
    data, indices, indptr = (np.asarray(group[k][()]) for k in ("data", "indices", "indptr"))
    if data.dtype.kind not in "uifb":
        raise InputError(f"'X' of {path} holds {data.dtype} values, not numbers", "store X as a numeric matrix")
    kind = group.attrs.get("encoding-type", b"csr_matrix")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    cls = sp.csc_matrix if kind == "csc_matrix" else sp.csr_matrix
    try:
        X = cls((data.astype(np.float32, copy=False), indices, indptr), shape=tuple(int(s) for s in shape))
        X.check_format(full_check=True)
    except (ValueError, TypeError) as exc:
        raise InputError(f"'X' of {path} is not a consistent sparse matrix ({exc})",
                         "the file is corrupt or was written wrongly; write it again") from None
    return X.tocsr()


def _matrix(fh, path: Path):
    import h5py

    item = fh.get("X")
    if isinstance(item, h5py.Group):
        return _sparse_x(item, path)
    if not isinstance(item, h5py.Dataset):
        raise InputError(f"{path} has no dataset 'X' (datasets: {short_list(dataset_names(fh), 8)})",
                         "store the cells x features matrix as 'X' (and labels, if any, as 'Y')")
    if item.dtype.kind not in "uifb":
        raise InputError(f"'X' of {path} holds {item.dtype} values, not numbers",
                         "store X as a numeric cells x features matrix")
    if item.ndim != 2:
        raise InputError(f"'X' of {path} has shape {item.shape}, not cells x features",
                         "store X as a 2-D cells x features matrix")
    return np.asarray(item[()], dtype=np.float32) if item.dtype.kind == "b" else item.astype(np.float32)[()]


def _values(item, name: str, path: Path, n: int, d: int) -> np.ndarray:
    """One label per cell: 1-D (or n x 1), text decoded, whole-number floats as integers."""
    arr = np.asarray(item[()])
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1 or arr.shape[0] != n:
        hint = " (X looks transposed: store it as cells x features)" if arr.ndim == 1 and arr.shape[0] == d else ""
        raise InputError(f"label dataset '{name}' of {path} has shape {arr.shape} but X has {n} cells{hint}",
                         "labels must hold one value per cell; name the right dataset with --label")
    if is_text(arr):
        return decode_strings(arr)
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
        return arr.astype(np.int64)
    return arr


def _labels(fh, path: Path, opts: ReadOptions, n: int, d: int):
    """(dataset name, values) or (None, None)."""
    import h5py

    if opts.label is not None:
        if isinstance(fh.get(opts.label), h5py.Dataset):
            return opts.label, _values(fh[opts.label], opts.label, path, n, d)
        if opts.obs_file is not None:  # the name may be a column of the --obs file
            return None, None
        raise InputError(f"--label {opts.label!r}: no such dataset in {path}",
                         f"datasets in the file: {short_list(dataset_names(fh), 10)}")
    present = [k for k in LABEL_NAMES if isinstance(fh.get(k), h5py.Dataset)]
    fitting = [k for k in present if fh[k].shape[:1] == (n,)]
    name = (fitting or present or [None])[0]
    return (name, _values(fh[name], name, path, n, d)) if name else (None, None)


def _names(fh, candidates, n: int, unique: bool):
    """(dataset name, names) from the first candidate with n entries (and unique when asked)."""
    import h5py

    for key in candidates:
        item = fh.get(key)
        if isinstance(item, h5py.Dataset) and item.shape == (n,):
            names = decode_strings(item[()])
            if not unique or pd.Index(names).is_unique:
                return key, names
    return None, None


def read_hdf5_matrix(path: Path, opts: ReadOptions) -> Loaded:
    import anndata as ad
    import h5py

    info: dict = {}
    with open_hdf5(path) as fh:
        try:
            X = _matrix(fh, path)
            n, d = X.shape
            label_name, labels = _labels(fh, path, opts, n, d)
            cells_from, cells = _names(fh, CELL_NAMES, n, unique=True)
            genes_from, genes = _names(fh, GENE_NAMES, d, unique=False)
            used = {"X", label_name, cells_from, *GENE_NAMES}
            extra = {key_text(k): fh[k][()] for k in fh if k not in used and k != "label"
                     and isinstance(fh[k], h5py.Dataset) and fh[k].shape == (n,)}
        except READ_ERRORS as exc:
            raise damaged(path, exc, WHAT) from None
    obs = pd.DataFrame({k: decode_strings(v) if is_text(v) else v for k, v in extra.items()},
                       index=pd.Index(cells if cells is not None else np.arange(n).astype(str), dtype=object))
    var = pd.DataFrame(index=unique_names(genes) if genes is not None else pd.Index([f"f{j}" for j in range(d)]))
    handled = frozenset()
    if label_name is not None:
        obs["label"] = labels
        info["label_dataset"] = label_name
        handled = frozenset({"label"}) if opts.label is not None else handled
    for key, source in (("cell_names_dataset", cells_from), ("gene_names_dataset", genes_from)):
        if source is not None:
            info[key] = source
    return Loaded(ad.AnnData(X=X, obs=obs, var=var), info, label_key="label" if label_name else None,
                  handled=handled)


register_reader("hdf5", kind="HDF5 matrices", suffixes=(".h5", ".hdf5"), read=read_hdf5_matrix,
                options=COMMON_OPTIONS,
                description="a cells x features dataset 'X' with optional labels 'Y' (scDeepCluster/scziDesk files)")
