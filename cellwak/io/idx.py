"""The idx format of MNIST-style files (optionally gzip-compressed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from .limits import check_inflation, open_binary
from .options import COMMON_OPTIONS, ReadOptions
from .registry import Loaded, register_reader

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_NAME = re.compile(r"(-|\.)idx\d-ubyte(\.gz)?$|\.idx(\.gz)?$", re.IGNORECASE)


def is_idx(path: Path) -> bool:
    return bool(IDX_NAME.search(path.name))


def read_idx(path: Path) -> np.ndarray:
    """The array in an idx file. The header declares the shape, so exactly that many bytes are
    read (a ``.gz`` inflated under the bomb limits of :mod:`.limits`); a shape the file cannot
    hold is refused before anything is allocated."""
    gz = path.name.lower().endswith(".gz")
    try:
        with open_binary(path) as fh:
            raw = fh.read(4)
            if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
                raise InputError(f"{path} is not an idx file (bad magic number)",
                                 "idx files start with two zero bytes, a type code and the number of dimensions")
            dtype, ndim = np.dtype(_DTYPES[raw[2]]), raw[3]
            head = fh.read(4 * ndim)
            if len(head) < 4 * ndim:
                raise InputError(f"{path} is truncated (incomplete header)", "download it again")
            dims = tuple(int.from_bytes(head[4 * i: 4 * i + 4], "big") for i in range(ndim))
            expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
            stored = path.stat().st_size
            if gz:
                check_inflation(path, expected, stored, f"its header declares shape {dims}, which")
            elif expected != stored - 4 - 4 * ndim:
                raise InputError(f"{path} is truncated or padded: {stored - 4 - 4 * ndim} data bytes for shape "
                                 f"{dims} (expected {expected})", "download it again")
            data = fh.read(expected)
            extra = len(fh.read(1))
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})",
                         "the file is corrupt or truncated; download it again") from None
    if len(data) != expected or extra:
        raise InputError(f"{path} is truncated or padded: {len(data) + extra}{'+' if extra else ''} data bytes for "
                         f"shape {dims} (expected {expected})", "download it again")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def sibling_labels(images_path: Path) -> Path | None:
    """``t10k-images-idx3-ubyte.gz`` -> ``t10k-labels-idx1-ubyte.gz`` when that file exists."""
    name = re.sub(r"images", "labels", images_path.name)
    name = re.sub(r"idx3", "idx1", name)
    cand = images_path.with_name(name)
    return cand if cand != images_path and cand.exists() else None


def idx_images_in(folder: Path) -> Path | None:
    found = sorted(p for p in folder.iterdir() if p.is_file() and is_idx(p) and "idx3" in p.name)
    return found[0] if len(found) == 1 else None


def _read(path: Path, opts: ReadOptions) -> Loaded:
    from .images import image_anndata

    images_path = idx_images_in(path) if path.is_dir() else path
    if images_path is None:
        raise InputError(f"{path}: no single *-images-idx3-ubyte file in this folder", "point to the images file")
    arr = read_idx(images_path)
    if arr.ndim not in (3, 4):
        raise InputError(f"{images_path} holds an array of shape {arr.shape}, not images",
                         "pass the images file (idx3), and its labels with --labels")
    adata = image_anndata(arr[:, None] if arr.ndim == 3 else np.ascontiguousarray(arr))
    return Loaded(adata, {"source": str(images_path.resolve())}, labels_file=sibling_labels(images_path))


def _sniff(path: Path) -> bool:
    return idx_images_in(path) is not None if path.is_dir() else is_idx(path)


register_reader("idx", kind="MNIST idx files", read=_read, options=COMMON_OPTIONS, sniff=_sniff, folders=True,
                suffixes=(".idx", ".idx.gz", "-idx1-ubyte", "-idx1-ubyte.gz", "-idx3-ubyte", "-idx3-ubyte.gz"),
                description="MNIST-style idx images (labels picked up from the matching idx1 file)")
