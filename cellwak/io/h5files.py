"""Opening HDF5 files (.h5, .hdf5, .h5ad) and decoding the strings they hold.

The HDF5 library loops forever (holding the GIL) or crashes on some damaged files, so before this
process opens one, :func:`probe_hdf5` has a separate Python process walk everything the library
parses (links, object headers, attributes, variable-length data in the global heap, chunk
indexes, and the first and last rows of every dataset for its type conversion and filters; not
the bulk data, nor anything stored in other files) under a time limit. A file that makes it hang
or crash is refused, and the answer is remembered for the file as it is. Then
:func:`check_self_contained` refuses external links, external storage and virtual datasets
before any dataset is read, and datasets declaring far more data than the file stores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InputError
from .limits import BOMB_FLOOR, BOMB_RATIO, check_inflation

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# what h5py and NumPy raise for damaged files and datasets of unexpected shape or type
READ_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError)


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


# seconds for the probe, plus one per 100 MB of file (CELLWAK_HDF5_PROBE_TIMEOUT sets the base:
# slow network file systems may need more)
PROBE_TIMEOUT = _env_seconds("CELLWAK_HDF5_PROBE_TIMEOUT", 30.0)
_PROBE = r"""
import sys
try:
    import h5py
except ImportError:
    sys.exit(3)
BOMB_RATIO, BOMB_FLOOR = int(sys.argv[2]), int(sys.argv[3])


def attempt(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception:
        return None  # a damaged part that raises is for the reader to describe


def attributes(obj):
    for key in attempt(list, obj.attrs) or []:
        attempt(obj.attrs.get, key)


def dataset(obj):
    plist = obj.id.get_create_plist()
    if plist.get_external_count() or plist.get_layout() == h5py.h5d.VIRTUAL:
        return  # never read: the reader refuses what lives in other files
    if obj.chunks is not None:
        obj.id.get_num_chunks()  # walks the chunk index
    text = h5py.check_string_dtype(obj.dtype)
    if (h5py.check_vlen_dtype(obj.dtype) is not None or obj.dtype.kind == "O"
            or (text is not None and text.length is None)):
        obj[()]  # variable-length data lives in the global heap
        return
    if not obj.shape:
        obj[()]
        return
    per_row = obj.dtype.itemsize
    for d in obj.shape[1:]:
        per_row *= d
    declared = per_row * obj.shape[0]
    if declared > BOMB_FLOOR and declared > BOMB_RATIO * max(obj.id.get_storage_size(), 1):
        return  # the reader refuses it as a bomb
    step = max(1, (16 << 20) // max(per_row, 1))
    obj[:step]  # the type conversion and filter pipeline, on the first and last rows
    obj[max(obj.shape[0] - step, 0):]


fh = attempt(h5py.File, sys.argv[1], "r")
if fh is not None:
    attributes(fh)
    names = []
    attempt(fh.id.links.visit, lambda name, info: names.append((name, info.type)), info=True)
    for name, kind in names:
        if kind == h5py.h5l.TYPE_HARD:
            obj = attempt(fh.get, name)  # bytes: names need not be UTF-8
            if obj is not None:
                attributes(obj)
                if isinstance(obj, h5py.Dataset):
                    attempt(dataset, obj)
"""
_PROBED: dict = {}


def probe_hdf5(path: Path) -> None:
    """Refuse (InputError) an HDF5 file on which the HDF5 library hangs or crashes; see the
    module docstring. Runs once per file version; skipped where no Python can be started."""
    try:
        st = os.stat(path)
    except OSError:
        return
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _PROBED:
        _PROBED[key] = _run_probe(Path(path), PROBE_TIMEOUT + st.st_size / 100e6)
    if _PROBED[key] is not None:
        raise _PROBED[key]


def _run_probe(path: Path, timeout: float) -> InputError | None:
    if not sys.executable:
        return None
    fix = "the file is corrupt; write it again"
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(BOMB_RATIO), str(BOMB_FLOOR)],
                              stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return InputError(f"cannot read {path}: the HDF5 library did not get through its structure in {timeout:.0f} s "
                          "(it loops on some damaged files)", fix)
    except OSError:
        return None
    if done.returncode < 0:
        return InputError(f"cannot read {path}: the HDF5 library crashed on it (signal {-done.returncode})", fix)
    return None


def is_hdf5(path: Path) -> bool:
    """Cheap test of the signature at the start of the file (where h5py and Cell Ranger put it)."""
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return fh.read(8) == HDF5_SIGNATURE


def key_text(key) -> str:
    """An HDF5 link name as text: h5py gives bytes for names that are not UTF-8."""
    return key.decode("utf-8", errors="replace") if isinstance(key, bytes) else str(key)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def damaged(path: Path, exc: BaseException, what: str) -> InputError:
    return InputError(f"cannot read {path} as {what} ({first_line(exc)})",
                      "the file is corrupt or truncated; write it again")


def outside_reference(fh) -> str | None:
    """What in the open file ``fh`` would read another file, or None: an external link, a
    dataset with external raw storage, a virtual dataset. Links are listed, never followed."""
    import h5py

    found: list[str] = []

    def visit(raw, info):
        name = key_text(raw)
        if info.type == h5py.h5l.TYPE_EXTERNAL:
            found.append(f"'{name}' is an external link")
        elif info.type == h5py.h5l.TYPE_HARD:
            obj = fh.get(raw)
            if isinstance(obj, h5py.Dataset):
                plist = obj.id.get_create_plist()
                if plist.get_external_count():
                    found.append(f"dataset '{name}' keeps its data in external files")
                elif plist.get_layout() == h5py.h5d.VIRTUAL:
                    found.append(f"dataset '{name}' is a virtual dataset mapping other files")
        elif info.type != h5py.h5l.TYPE_SOFT:
            found.append(f"'{name}' is a user-defined link")
        return True if found else None

    fh.id.links.visit(visit, info=True)
    return found[0] if found else None


def inflation_problem(fh, path: Path) -> None:
    """Refuse a numeric dataset that declares far more data than the file stores for it (a
    compression bomb, or a damaged shape); see :mod:`.limits`."""
    import h5py

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc":
            declared = int(np.prod(obj.shape, dtype=object) if obj.shape else 1) * obj.dtype.itemsize
            check_inflation(path, declared, obj.id.get_storage_size(), f"dataset '{name}'")

    fh.visititems(visit)


def check_self_contained(fh, path: Path) -> None:
    """cellwak reads only what is inside the file: external links and storage are refused
    before any dataset is read, as are datasets that declare more than the file can hold."""
    problem = outside_reference(fh)
    if problem:
        raise InputError(f"{path} uses external storage/links ({problem}); cellwak reads only self-contained files",
                         "write the data into the file itself (e.g. h5repack, or save it again with anndata/h5py)")
    inflation_problem(fh, path)


def hard_member(group, key: str):
    """``group[key]`` when it is reached by a hard link (no external or soft link is followed), else None."""
    import h5py

    try:
        link = group.get(key, getlink=True)
    except READ_ERRORS:
        return None
    return group.get(key) if isinstance(link, h5py.HardLink) else None


@contextmanager
def open_hdf5(path: Path):
    """An open h5py.File that is self-contained (see :func:`check_self_contained`); an empty,
    damaged or non-HDF5 file is one InputError."""
    import h5py

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete HDF5 file")
    if is_hdf5(path):
        probe_hdf5(path)
    try:
        fh = h5py.File(path, "r")
    except READ_ERRORS as exc:  # not yet known which HDF5 layout it was meant to be
        raise damaged(path, exc, "HDF5") from None
    try:
        try:
            check_self_contained(fh, path)
        except READ_ERRORS as exc:
            raise damaged(path, exc, "HDF5") from None
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
