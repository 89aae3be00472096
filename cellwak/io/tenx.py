"""10x Genomics feature-barcode matrices (Cell Ranger ``.h5``), read as ``scanpy.read_10x_h5`` does.

Two layouts: v3 and later (group ``matrix``: ``data``, ``indices``, ``indptr``, ``shape``,
``barcodes`` and ``features/{name,id,feature_type,genome...}``) and the legacy v2 layout (one group
per genome with ``gene_names`` and ``genes``). The matrix is stored features x cells in CSC, which
is cells x features in CSR. Unlike scanpy, gene names are made unique here (``X``, ``X-1``) and
'Gene Expression' is kept alone only when the file holds several feature types.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, short_list
from .h5files import (
    READ_ERRORS,
    damaged,
    decode_strings,
    hard_member,
    is_hdf5,
    key_text,
    open_hdf5,
    probe_hdf5,
    unique_names,
)
from .options import COMMON_OPTIONS, ReadOptions
from .registry import Loaded, register_reader

WHAT = "a 10x Genomics .h5 file"
GEX = "Gene Expression"
_NOT_EXTRA = {"name", "feature_type", "id", "gene_id", "_all_tag_keys"}  # as scanpy
_FIX = "the file is not a complete 10x Genomics matrix; export it again from Cell Ranger"


def _genome_groups(fh) -> list[str]:
    import h5py

    groups = [k for k in fh if isinstance(hard_member(fh, k), h5py.Group)]
    return [k for k in groups if "barcodes" in fh[k] and "indptr" in fh[k]]


def _layout(fh) -> str | None:
    """'v3', 'v2' or None, looking only through hard links (a sniff must not open other files)."""
    import h5py

    if isinstance(hard_member(fh, "matrix"), h5py.Group):
        return "v3"
    return "v2" if _genome_groups(fh) else None


def is_10x_h5(path: Path) -> bool:
    """An HDF5 file with a ``matrix`` group, or a genome group holding ``barcodes`` and ``indptr``."""
    if not is_hdf5(path):
        return False
    import h5py

    try:
        probe_hdf5(path)
        with h5py.File(path, "r") as fh:
            return _layout(fh) is not None
    except (*READ_ERRORS, InputError):
        return False


def _strings(group, key: str, n: int, path: Path) -> np.ndarray:
    if key not in group:
        raise InputError(f"{path} has no '{group.name.lstrip('/')}/{key}'", _FIX)
    values = decode_strings(group[key][()])
    if values.shape != (n,):
        raise InputError(f"'{group.name.lstrip('/')}/{key}' of {path} has {values.size} entries, expected {n}", _FIX)
    return values


def _matrix(group, path: Path):
    """Cells x features CSR float32 and the barcodes, with every index checked."""
    import scipy.sparse as sp

    for key in ("data", "indices", "indptr", "shape", "barcodes"):
        if key not in group:
            raise InputError(f"{path} has no '{group.name.lstrip('/')}/{key}'", _FIX)
    shape = np.asarray(group["shape"][()]).ravel()
    data, indices, indptr = (np.asarray(group[k][()]) for k in ("data", "indices", "indptr"))
    if shape.size != 2 or data.dtype.kind not in "uifb" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise InputError(f"{path}: '{group.name.lstrip('/')}' does not hold a sparse matrix (shape {shape.tolist()}, "
                         f"data {data.dtype}, indices {indices.dtype})", _FIX)
    n_features, n_cells = int(shape[0]), int(shape[1])
    ok = (indptr.shape == (n_cells + 1,) and data.shape == indices.shape == (int(indptr[-1]) if indptr.size else -1,)
          and indptr[0] == 0 and (np.diff(indptr) >= 0).all()
          and (indices.size == 0 or (indices.min() >= 0 and indices.max() < n_features)))
    if not ok:
        raise InputError(f"{path}: the sparse matrix in '{group.name.lstrip('/')}' is inconsistent "
                         f"({n_features} features x {n_cells} cells, {indptr.size} pointers, {data.size} values)", _FIX)
    X = sp.csr_matrix((data.astype(np.float32, copy=False), indices, indptr), shape=(n_cells, n_features))
    return X, _strings(group, "barcodes", n_cells, path)


def _read_v3(fh, path: Path):
    import h5py

    X, barcodes = _matrix(fh["matrix"], path)
    if not isinstance(fh["matrix"].get("features"), h5py.Group):
        raise InputError(f"{path} has no 'matrix/features' group", _FIX)
    feats, n = fh["matrix/features"], X.shape[1]
    var = {"name": _strings(feats, "name", n, path)}
    if "gene_id" in feats:  # a probe-barcode matrix
        var.update(gene_ids=_strings(feats, "gene_id", n, path), probe_ids=_strings(feats, "id", n, path))
    else:
        var["gene_ids"] = _strings(feats, "id", n, path)
    var["feature_types"] = _strings(feats, "feature_type", n, path) if "feature_type" in feats \
        else np.full(n, GEX, dtype=object)
    for key, item in feats.items():
        if isinstance(item, h5py.Dataset) and key not in _NOT_EXTRA and item.shape == (n,):
            var[key_text(key)] = np.asarray(item[()], dtype=bool) if item.dtype.kind == "b" else decode_strings(item[()])
    obs = {}
    if "filtered_barcodes" in fh["matrix"]:
        obs["filtered_barcodes"] = np.asarray(fh["matrix/filtered_barcodes"][()]).astype(bool)
    return X, barcodes, pd.DataFrame(var), obs


def _read_v2(fh, path: Path, genome: str | None):
    genomes = _genome_groups(fh)
    if genome is None and len(genomes) > 1:
        raise InputError(f"{path} is a legacy 10x file with {len(genomes)} genomes ({short_list(genomes)})",
                         "pick one with --genome NAME")
    if genome is not None and genome not in genomes:
        raise InputError(f"--genome {genome!r}: no such genome in {path}", f"genomes in the file: {short_list(genomes)}")
    genome = genome or genomes[0]
    X, barcodes = _matrix(fh[genome], path)
    n = X.shape[1]
    var = pd.DataFrame({"name": _strings(fh[genome], "gene_names", n, path),
                        "gene_ids": _strings(fh[genome], "genes", n, path),
                        "feature_types": np.full(n, GEX, dtype=object),
                        "genome": np.full(n, key_text(genome), dtype=object)})
    return X, barcodes, var, key_text(genome)


def _select(X, var: pd.DataFrame, opts: ReadOptions, path: Path, info: dict, layout: str):
    """--genome, then 'Gene Expression' alone when several feature types are present."""
    if opts.genome is not None and layout == "v3":
        genomes = list(pd.unique(var["genome"])) if "genome" in var else []
        if opts.genome not in genomes:
            raise InputError(f"--genome {opts.genome!r}: no such genome in {path}",
                             f"genomes in the file: {short_list(genomes) or 'none recorded'}")
        keep = (var["genome"] == opts.genome).to_numpy()
        X, var = X[:, keep], var[keep]
    counts = var["feature_types"].value_counts(sort=False)
    info["feature_types"] = {str(k): int(v) for k, v in counts.items()}
    if len(counts) > 1 and GEX in counts and not opts.all_feature_types:
        keep = (var["feature_types"] == GEX).to_numpy()
        others = ", ".join(f"{v} '{k}'" for k, v in counts.items() if k != GEX)
        info["dropped_features"] = (f"kept only the {int(counts[GEX])} '{GEX}' features, left out {others} "
                                    "features; --all-feature-types keeps them")
        X, var = X[:, keep], var[keep]
    return X, var


def read_10x_h5(path: Path, opts: ReadOptions) -> Loaded:
    import anndata as ad

    with open_hdf5(path) as fh:
        try:
            layout = _layout(fh)
            if layout is None:
                raise InputError(f"{path} is not a 10x Genomics matrix (no 'matrix' group and no genome group "
                                 "with 'barcodes' and 'indptr')", _FIX)
            if layout == "v3":
                X, barcodes, var, obs = _read_v3(fh, path)
                genome = opts.genome
            else:
                X, barcodes, var, genome = _read_v2(fh, path, opts.genome)
                obs = {}
        except READ_ERRORS as exc:
            raise damaged(path, exc, WHAT) from None
    info: dict = {"layout": "10x Genomics v3" if layout == "v3" else "10x Genomics legacy (v2)"}
    if genome is not None:
        info["genome"] = genome
    X, var = _select(X, var, opts, path, info, layout)
    var.index = unique_names(var.pop("name").to_numpy())
    obs = pd.DataFrame(obs, index=pd.Index(barcodes, dtype=object))
    return Loaded(ad.AnnData(X=sp_csr(X), obs=obs, var=var), info)


def sp_csr(X):
    """Canonical CSR float32 (column selection may leave another format or dtype)."""
    import scipy.sparse as sp

    X = sp.csr_matrix(X, dtype=np.float32)
    X.sort_indices()
    return X


register_reader("10x_h5", kind="10x Genomics .h5 files", suffixes=(".h5", ".hdf5"), read=read_10x_h5,
                sniff=is_10x_h5, options=COMMON_OPTIONS | {"genome", "all_feature_types"},
                description="Cell Ranger feature-barcode matrices (v3 and legacy v2), sparse counts")
