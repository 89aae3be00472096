"""Opening HDF5 files (.h5, .hdf5, .h5ad) and decoding the strings they hold."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InputError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# what h5py and NumPy raise for damaged files and datasets of unexpected shape or type
READ_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError)


def is_hdf5(path: Path) -> bool:
    """Cheap test of the signature at the start of the file (where h5py and Cell Ranger put it)."""
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return fh.read(8) == HDF5_SIGNATURE


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def damaged(path: Path, exc: BaseException, what: str) -> InputError:
    return InputError(f"cannot read {path} as {what} ({first_line(exc)})",
                      "the file is corrupt or truncated; write it again")


@contextmanager
def open_hdf5(path: Path):
    """An open h5py.File; an empty, damaged or non-HDF5 file is one InputError."""
    import h5py

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete HDF5 file")
    try:
        fh = h5py.File(path, "r")
    except READ_ERRORS as exc:  # not yet known which HDF5 layout it was meant to be
        raise damaged(path, exc, "HDF5") from None
    try:
        yield fh
    finally:
        fh.close()


def decode_strings(values) -> np.ndarray:
    """Byte strings (fixed or variable length) -> an array of str."""
    arr = np.asarray(values)
    if arr.dtype.kind == "S":
        return np.char.decode(arr, "utf-8", errors="replace").astype(object)
    if arr.dtype.kind == "O":
        return np.array([v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)
                         for v in arr.ravel()], dtype=object).reshape(arr.shape)
    return arr.astype(str).astype(object)


def is_text(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "SUO"


def dataset_names(fh, limit: int = 200) -> list[str]:
    """Paths of the datasets in the file (groups walked), for messages."""
    import h5py

    names: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            names.append(name)
        return True if len(names) >= limit else None

    fh.visititems(visit)
    return names


def unique_names(names):
    """A pandas Index made unique like anndata's ``var_names_make_unique``: 'X', 'X' -> 'X', 'X-1'."""
    import warnings

    import pandas as pd
    from anndata.utils import make_index_unique

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_index_unique(pd.Index(np.asarray(names).astype(str), dtype=object))
