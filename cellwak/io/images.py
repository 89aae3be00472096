"""Image crops: arrays in .npz/.npy and folders of per-cell TIFF/PNG files.

Every image dataset is held once, as ``obsm['images']`` with shape (N, C, H, W); ``X`` is a
zero-copy flat view of the same memory (one feature per pixel and channel).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, short_list
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


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete .npz/.npy file")
    try:
        if path.suffix.lower() == ".npy":
            return {"arr_0": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} ({str(exc).splitlines()[0][:160]})",
                         "the file is corrupt or truncated; save it again with numpy.savez") from None


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
    if data.dtype.kind not in "uif":
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
        names = arrays.get("class_names")
        if names is not None and labels.dtype.kind in "iu" and labels.size and labels.min() >= 0 \
                and labels.max() < len(names):
            obs["label"] = pd.Categorical.from_codes(labels.astype(np.int64), categories=[str(s) for s in names])
        else:
            obs["label"] = labels.astype(str)
    for k, v in arrays.items():
        if k not in (key, label_key, "class_names") and v.ndim == 1 and v.shape[0] == n and k not in obs:
            obs[k] = v.astype(str) if v.dtype.kind in "US" else v
    extra = {}
    if "channel_names" in arrays and arrays["channel_names"].ndim == 1:
        extra["channel_names"] = [str(s) for s in arrays["channel_names"]]
    if data.ndim == 2:
        return "table", (data, obs, extra)
    images = to_nchw(data, channels_last, str(path))
    return "images", (images, obs, extra)


def _read_one_image(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            arr = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as im:
                arr = np.asarray(im)
    except Exception as exc:  # PIL and tifffile raise many types for damaged files
        raise InputError(f"cannot read image {path} ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})",
                         "the file is corrupt or not an image; remove or replace it") from None
    if arr.ndim == 2:
        return arr[None]
    if arr.ndim == 3:
        if arr.shape[-1] <= 4 < arr.shape[0]:
            return arr.transpose(2, 0, 1)
        if arr.shape[0] <= 4:
            return arr
    raise InputError(f"image {path} has shape {arr.shape}",
                     "each file must hold one 2-D image, grey or with up to 4 channels")


def read_image_folder(path: Path):
    """A folder of per-cell images; a first-level subfolder name is the cell's class."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not p.name.startswith("."))
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
        if img.dtype != images.dtype:
            images = images.astype(np.result_type(images.dtype, img.dtype))
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
