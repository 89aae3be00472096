"""The idx format of MNIST-style files (optionally gzip-compressed)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from ..errors import InputError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_NAME = re.compile(r"(-|\.)idx\d-ubyte(\.gz)?$|\.idx(\.gz)?$", re.IGNORECASE)


def is_idx(path: Path) -> bool:
    return bool(IDX_NAME.search(path.name))


def read_idx(path: Path) -> np.ndarray:
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read {path} ({str(exc).splitlines()[0][:120]})",
                         "the file is corrupt or truncated; download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise InputError(f"{path} is not an idx file (bad magic number)",
                         "idx files start with two zero bytes, a type code and the number of dimensions")
    dtype, ndim = np.dtype(_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{path} is truncated (incomplete header)", "download it again")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(f"{path} is truncated or padded: {len(raw) - header} data bytes for shape {dims} "
                         f"(expected {expected})", "download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def sibling_labels(images_path: Path) -> Path | None:
    """``t10k-images-idx3-ubyte.gz`` -> ``t10k-labels-idx1-ubyte.gz`` when that file exists."""
    name = re.sub(r"images", "labels", images_path.name)
    name = re.sub(r"idx3", "idx1", name)
    cand = images_path.with_name(name)
    return cand if cand != images_path and cand.exists() else None


def idx_images_in(folder: Path) -> Path | None:
    found = sorted(p for p in folder.iterdir() if p.is_file() and is_idx(p) and "idx3" in p.name)
    return found[0] if len(found) == 1 else None
