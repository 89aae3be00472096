""".h5ad files written by anndata (scanpy's own format)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from .h5files import first_line, is_hdf5, open_hdf5, probe_hdf5
from .options import COMMON_OPTIONS, ReadOptions
from .registry import Loaded, register_reader
from .validate import cell_ids, require_columns


def read_h5ad(path: Path, opts: ReadOptions) -> Loaded:
    import anndata as ad

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete .h5ad file")
    with open_hdf5(path):  # refuses external links/storage before anndata reads anything
        pass
    try:
        with warnings.catch_warnings():  # old files: format notices that users cannot act on
            warnings.filterwarnings("ignore", module="anndata")
            warnings.simplefilter("ignore", FutureWarning)
            adata = ad.read_h5ad(path)
    except MemoryError:
        raise
    except Exception as exc:  # h5py/anndata raise OSError, KeyError, ValueError... for damaged files
        raise InputError(f"cannot read {path} as .h5ad ({first_line(exc)})",
                         "the file is corrupt or truncated; write it again with anndata") from None
    if adata.X is None and "images" not in adata.obsm:
        raise InputError(f"{path} has no X matrix", "store the features in X")
    if opts.id is not None:
        require_columns({"--id": opts.id}, adata.obs.columns, str(path))
        adata.obs_names = cell_ids(adata.obs[opts.id], opts.id, str(path))
    if "images" in adata.obsm and adata.obsm["images"].ndim == 4 and adata.X is None:
        adata.X = adata.obsm["images"].reshape(adata.n_obs, -1)
    if adata.X is not None and hasattr(adata.X, "dtype") and adata.X.dtype == np.float64:
        adata.X = adata.X.astype(np.float32)
    return Loaded(adata, info={"id_key": opts.id} if opts.id else {}, handled=frozenset({"id"}))


def _is_anndata(path: Path) -> bool:
    """An anndata file under another name (.h5): its root says encoding-type 'anndata'."""
    if not is_hdf5(path):
        return False
    import h5py

    try:
        probe_hdf5(path)
        with h5py.File(path, "r") as fh:
            kind = fh.attrs.get("encoding-type", b"")
    except (OSError, InputError):
        return False
    return (kind.decode() if isinstance(kind, bytes) else str(kind)) == "anndata"


register_reader("h5ad", kind="AnnData files", suffixes=(".h5ad",), read=read_h5ad, options=COMMON_OPTIONS,
                sniff=_is_anndata, description="AnnData files (scanpy): X, obs and obsm as stored")
