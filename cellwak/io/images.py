"""Image crops: arrays in .npz/.npy and folders of per-cell TIFF/PNG files.

Every image dataset is held once, as ``obsm['images']`` with shape (N, C, H, W); ``X`` is a
zero-copy flat view of the same memory (one feature per pixel and channel).

Arrays are read without ``numpy.load``: pickled (object) arrays are refused unread, member names
with paths are refused, and sizes are checked before allocation (see :mod:`.limits`). Images
larger than Pillow's ``MAX_IMAGE_PIXELS`` (TIFF too) are refused as decompression bombs; palette
images become RGB(A); images of one folder must share one bit depth (8-bit and 16-bit pixels are
on different scales, and cellwak does not guess how to rescale them).
"""

from __future__ import annotations

import logging
import struct
import warnings
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, short_list
from .limits import check_inflation, require_regular_file
from .options import COMMON_OPTIONS, ReadOptions, flag
from .registry import Loaded, register_reader

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
_IMAGE_KEYS = ("images", "x", "X", "data", "imgs", "arr_0")
_LABEL_KEYS = ("labels", "y", "label", "targets")


def to_nchw(arr: np.ndarray, channels_last: bool | None, source: str) -> np.ndarray:
    """Bring (N,H,W), (N,C,H,W) or (N,H,W,C) to a contiguous (N,C,H,W) array."""
    if arr.ndim == 3:
        return np.ascontiguousarray(arr[:, None])
    if arr.ndim != 4:
        raise InputError(f"{source}: an image array must have 3 or 4 dimensions, got shape {arr.shape}",
                         "use (N,H,W), (N,C,H,W) or (N,H,W,C)")
    n, a, b, c = arr.shape
    if channels_last is None:
        if c <= 4 < a:
            channels_last = True
        elif a <= 4 < c:
            channels_last = False
        elif b == c and a != b:
            channels_last = False
        elif a == b and c != b:
            channels_last = True
        else:
            raise InputError(f"{source}: cannot tell the channel axis of image shape {arr.shape}",
                             "pass --channels-first or --channels-last")
    if channels_last:
        arr = arr.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(arr)


def pixel_names(shape: tuple[int, int, int]) -> list[str]:
    c, h, w = shape
    return [f"c{ci}_y{y}_x{x}" for ci in range(c) for y in range(h) for x in range(w)]


def image_anndata(images: np.ndarray, obs: pd.DataFrame | None = None):
    """An AnnData whose X is a flat view of ``images`` (N,C,H,W)."""
    import anndata as ad

    n = images.shape[0]
    obs = obs if obs is not None else pd.DataFrame(index=pd.RangeIndex(n).astype(str))
    var = pd.DataFrame(index=pixel_names(images.shape[1:]))
    adata = ad.AnnData(X=images.reshape(n, -1), obs=obs, var=var)
    adata.obsm["images"] = images
    return adata


def _damaged(where: str, exc: BaseException | str) -> InputError:
    why = exc if isinstance(exc, str) else (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    return InputError(f"cannot read {where} ({why})",
                      "the file is corrupt or truncated; save it again with numpy.save/numpy.savez")


def _read_npy(fh, where: str, size: int) -> np.ndarray:
    """The array of one .npy stream of ``size`` bytes. The header is parsed without evaluating
    code, an object array (a pickle) is refused unread, and the declared shape must fit the bytes
    that are there before anything is allocated."""
    import numpy.lib.format as npf

    try:
        version = npf.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npf.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npf.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unknown .npy format version {version}")
        start = fh.tell()
    except Exception as exc:  # noqa: BLE001  the header parser raises ValueError, SyntaxError, TokenError...
        raise _damaged(where, exc) from None
    if dtype.hasobject:
        raise InputError(f"{where} holds Python objects (a pickle), which cellwak never loads",
                         "save plain numeric (or text) arrays, e.g. numpy.savez(path, images=array.astype('float32'))")
    if dtype.itemsize == 0 or dtype.kind not in "biufcUSV":
        raise InputError(f"{where} holds an array of type {dtype}", "save numeric (or text) arrays")
    count = int(np.prod(shape, dtype=object))
    nbytes = count * dtype.itemsize
    if start + nbytes != size:
        raise _damaged(where, f"its header declares shape {shape} ({nbytes:,} bytes) but {max(size - start, 0):,} "
                              "bytes follow it")
    arr = np.empty(count, dtype=dtype)
    view = memoryview(arr.view(np.uint8)) if count else memoryview(bytearray())
    got = 0
    while got < nbytes:
        n = fh.readinto(view[got:])
        if not n:
            raise _damaged(where, "it ends early")
        got += n
    arr = arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def _member_name_problem(name: str) -> str | None:
    if "/" in name or "\\" in name:
        return "has a path in its name"
    if name.startswith(".") or any(ord(c) < 32 for c in name):
        return "has a name numpy.savez never writes"
    return None


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a .npy/.npz file, read without numpy.load: no pickles, no member names
    with paths, and no member inflating past the bomb limits of :mod:`.limits`."""
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path} is empty", "point to a complete .npz/.npy file")
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as fh:
            return {"arr_0": _read_npy(fh, str(path), size)}
    errors = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError,
              struct.error, IndexError, KeyError)
    try:
        zf = zipfile.ZipFile(path)
    except errors as exc:
        raise _damaged(str(path), exc) from None
    arrays: dict[str, np.ndarray] = {}
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for info in infos:
            problem = _member_name_problem(info.filename)
            if problem:
                raise InputError(f"member {info.filename!r} of {path} {problem}; refusing the file",
                                 "save the arrays again with numpy.savez and plain names")
        members = [i for i in infos if i.filename.endswith(".npy")]  # numpy.savez writes nothing else
        check_inflation(path, sum(i.file_size for i in members), size, "its arrays together")
        for info in members:
            key, where = info.filename[:-4], f"member '{info.filename}' of {path}"
            if key in arrays:
                raise _damaged(str(path), f"member '{info.filename}' appears twice")
            if info.flag_bits & 0x1:
                raise InputError(f"{where} is encrypted", "save the arrays again with numpy.savez, unencrypted")
            check_inflation(path, info.file_size, info.compress_size, f"member '{info.filename}'")
            try:
                with zf.open(info) as fh:
                    arrays[key] = _read_npy(fh, where, info.file_size)
            except errors as exc:
                raise _damaged(where, exc) from None
    return arrays


def _text(values: np.ndarray) -> np.ndarray:
    """Text (or bytes, decoded as UTF-8) as an array of str."""
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8", errors="replace").astype(object)
    return values.astype(str).astype(object)


def _label_values(labels: np.ndarray) -> np.ndarray:
    """Labels as text; NaN (a float array's way of saying 'no label') stays missing, and
    whole-number floats lose their '.0'."""
    if labels.dtype.kind == "f":
        missing = np.isnan(labels)
        present = labels[~missing]
        whole = present.size and np.isfinite(present).all() and (present == np.round(present)).all()
        text = (np.where(missing, 0, labels).astype(np.int64) if whole else labels).astype(str).astype(object)
        text[missing] = None
        return text
    if labels.dtype.kind in "US":
        return _text(labels)
    return labels.astype(str).astype(object)


def read_array_file(path: Path, channels_last: bool | None):
    """Read .npz/.npy. Returns (kind, payload) where kind is 'images' or 'table'."""
    arrays = _load_npz(path)
    key = next((k for k in _IMAGE_KEYS if k in arrays and arrays[k].ndim >= 2), None)
    if key is None:
        nd = [k for k, v in arrays.items() if v.ndim >= 2]
        if not nd:
            raise InputError(f"{path} holds no 2-D or larger array (keys: {short_list(arrays)})",
                             "store images as (N,C,H,W)/(N,H,W,C)/(N,H,W) or features as (N,D) under 'images' or 'X'")
        key = max(nd, key=lambda k: arrays[k].size)
    data = arrays[key]
    if data.dtype.kind not in "buif":
        raise InputError(f"{path}: array '{key}' has non-numeric dtype {data.dtype}",
                         "store pixel or feature values as numbers")
    n = data.shape[0]
    obs = pd.DataFrame(index=pd.RangeIndex(n).astype(str))
    label_key = next((k for k in _LABEL_KEYS if k in arrays), None)
    if label_key is not None:
        labels = arrays[label_key]
        if labels.shape[:1] != (n,) or labels.ndim != 1:
            raise InputError(f"{path}: '{label_key}' has shape {labels.shape} but there are {n} cells",
                             "labels must be a 1-D array with one entry per cell")
        if labels.dtype.kind not in "biufUS":
            raise InputError(f"{path}: '{label_key}' holds {labels.dtype} values", "store labels as numbers or text")
        names = arrays.get("class_names")
        names = list(_text(names.ravel())) if names is not None and names.dtype.kind in "US" else None
        if names is not None and labels.dtype.kind in "iu" and labels.size and labels.min() >= 0 \
                and labels.max() < len(names) and len(set(names)) == len(names):
            obs["label"] = pd.Categorical.from_codes(labels.astype(np.int64), categories=names)
        else:
            obs["label"] = _label_values(labels)
    for k, v in arrays.items():
        if k not in (key, label_key, "class_names") and v.ndim == 1 and v.shape[0] == n and k not in obs \
                and v.dtype.kind in "biufUS":
            obs[k] = _text(v) if v.dtype.kind in "US" else v
    extra = {}
    if "channel_names" in arrays and arrays["channel_names"].ndim == 1 and arrays["channel_names"].dtype.kind in "US":
        extra["channel_names"] = [str(s) for s in _text(arrays["channel_names"])]
    if data.ndim == 2:
        return "table", (data, obs, extra)
    images = to_nchw(data, channels_last, str(path))
    return "images", (images, obs, extra)


@contextmanager
def _quiet_logger(name: str):
    """tifffile logs what it repairs in a damaged file; those lines would follow cellwak's one."""
    logger = logging.getLogger(name)
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was


def _bomb(path: Path, why: str) -> InputError:
    return InputError(f"image {path} is too large for a cell crop ({why}): a probable decompression bomb",
                      "crop the images to single cells first")


MAX_TIFF_PAGES = 1024  # a cell crop holds one page, or one per channel


def _read_tiff(path: Path) -> np.ndarray:
    """The image pages of a TIFF, stacked (one page per channel) when there are several.

    Not through ``TiffFile.series``: on a damaged file whose second page has no image, tifffile
    2026.3's page iterator re-read that page forever (found by the fuzzing). The IFD chain is
    walked once (``len(pages)``, which tifffile guards against cycles) and only those pages are
    read; pages without image data are skipped, as ``series`` does."""
    import tifffile
    from PIL import Image

    with _quiet_logger("tifffile"), tifffile.TiffFile(path) as tf:
        n = len(tf.pages)
        if n > MAX_TIFF_PAGES:
            raise InputError(f"image {path} holds {n:,} pages, more than {MAX_TIFF_PAGES:,} for a cell crop",
                             "save one cell per file, with one page per channel at most")
        pages = [p for p in (tf.pages[i] for i in range(n)) if p.shape]
        if not pages:
            raise InputError(f"image {path} holds no image data", "the file is corrupt; remove or replace it")
        first = pages[0]
        if any(p.shape != first.shape or p.dtype != first.dtype for p in pages[1:]):
            raise InputError(f"the pages of image {path} differ in shape or pixel type",
                             "save one page per channel, all of one size and type")
        shape = tuple(int(d) for d in ((len(pages), *first.shape) if len(pages) > 1 else first.shape))
        pixels = int(np.prod(shape, dtype=object))
        if len(shape) == 3 and min(shape) <= 4:
            pixels //= max(min(shape), 1)  # channels are not pixels (as Pillow counts them)
        limit = Image.MAX_IMAGE_PIXELS
        if limit and pixels > limit:
            raise _bomb(path, f"{pixels:,} pixels, more than {limit:,}")
        return first.asarray() if len(pages) == 1 else np.stack([p.asarray() for p in pages])


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. corrupt EXIF: nothing a user can act on
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                if im.mode in ("P", "PA"):  # palette indices are no intensities
                    im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
                elif im.mode == "1":
                    im = im.convert("L")
                return np.asarray(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb(path, str(exc).split(",")[0]) from None


def _read_one_image(path: Path) -> np.ndarray:
    require_regular_file(path, "image")
    try:
        arr = _read_tiff(path) if path.suffix.lower() in (".tif", ".tiff") else _read_pil(path)
    except (InputError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001  PIL and tifffile raise many types for damaged files
        raise InputError(f"cannot read image {path} ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})",
                         "the file is corrupt or not an image; remove or replace it") from None
    if arr.dtype.kind not in "buif":
        raise InputError(f"image {path} holds {arr.dtype} pixels", "save the images with real-valued pixels")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.ndim == 2:
        return arr[None]
    if arr.ndim == 3:
        if arr.shape[-1] <= 4 < arr.shape[0]:
            return arr.transpose(2, 0, 1)
        if arr.shape[0] <= 4:
            return arr
    raise InputError(f"image {path} has shape {arr.shape}",
                     "each file must hold one 2-D image, grey or with up to 4 channels")


def _depth(dtype: np.dtype) -> str:
    if dtype.kind == "b":
        return "1-bit (bool)"
    kind = {"u": "bit", "i": "bit signed", "f": "bit float"}[dtype.kind]
    return f"{dtype.itemsize * 8}-{kind} ({dtype})"


def _image_files(path: Path) -> list[Path]:
    """Image files under ``path`` (hidden ones left out); one that is no regular file (a device or
    FIFO behind a symlink, a dangling link) is refused."""
    files = []
    for p in sorted(path.rglob("*")):
        if p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
            continue
        if p.is_file():
            files.append(p)
        elif not p.is_dir():
            require_regular_file(p, "image")
    return files


def read_image_folder(path: Path):
    """A folder of per-cell images; a first-level subfolder name is the cell's class."""
    files = _image_files(path)
    if not files:
        raise InputError(f"{path} holds no .tif/.tiff/.png/.jpg images",
                         "point to a folder of per-cell images (optionally one subfolder per class)")
    rel = [f.relative_to(path) for f in files]
    top = [r for r in rel if len(r.parts) == 1]
    if top and len(top) != len(rel):
        raise InputError(f"{path} mixes images at the top level with images in subfolders",
                         "put every image in a class subfolder, or all at the top level")
    first = _read_one_image(files[0])
    images = np.empty((len(files), *first.shape), dtype=first.dtype)
    images[0] = first
    for i, f in enumerate(files[1:], start=1):
        img = _read_one_image(f)
        if img.shape != first.shape:
            raise InputError(f"inconsistent image shapes: {rel[i]} is {img.shape} (C,H,W) but {rel[0]} is {first.shape}",
                             "crop or resize all cells to one size first")
        if img.dtype != images.dtype:  # 8-bit and 16-bit pixels are on different scales: no guessing
            raise InputError(f"images differ in bit depth: {rel[i]} is {_depth(img.dtype)} but {rel[0]} is "
                             f"{_depth(first.dtype)}",
                             "convert them all to one bit depth first (e.g. all 16-bit TIFF); cellwak does not "
                             "rescale pixel values")
        images[i] = img
    obs = pd.DataFrame({"file": [str(r) for r in rel]}, index=pd.Index([str(r) for r in rel]))
    if not top:
        obs["label"] = [r.parts[0] for r in rel]
    return images, obs


def _read_arrays(path: Path, opts: ReadOptions) -> Loaded:
    kind, (data, obs, extra) = read_array_file(path, opts.channels_last)
    if kind == "images":
        adata = image_anndata(data, obs)
    else:
        import anndata as ad

        if opts.channels_last is not None:
            raise InputError(f"{flag('channels_last', opts.channels_last)} does not apply to {path}: it holds a "
                             f"{data.shape[0]} x {data.shape[1]} feature matrix, not images", "remove it")
        adata = ad.AnnData(X=np.asarray(data), obs=obs,
                           var=pd.DataFrame(index=[f"f{j}" for j in range(data.shape[1])]))
    return Loaded(adata, extra, label_key="label" if "label" in obs else None)


def _read_folder(path: Path, opts: ReadOptions) -> Loaded:
    images, obs = read_image_folder(path)
    return Loaded(image_anndata(images, obs), label_key="label" if "label" in obs else None)


register_reader("npz", kind="NumPy image or feature arrays", suffixes=(".npz", ".npy"), read=_read_arrays,
                options=COMMON_OPTIONS | {"channels_last"},
                description="images (N,C,H,W)/(N,H,W,C)/(N,H,W) or features (N,D), with optional labels")
register_reader("folder", kind="folders of per-cell TIFF/PNG images", read=_read_folder, folders=True,
                description="one image file per cell; a first-level subfolder name is the cell's class")
