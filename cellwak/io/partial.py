"""Reading a few rows of a stored ``.h5ad`` without loading the dataset: what a screen shows of a
million-cell dataset (a page of crops, a sample of a layout) costs only those rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def obsm_shapes(path: Path) -> dict[str, tuple]:
    """``{obsm key: shape}`` of the dense arrays stored under ``obsm``."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f.get("obsm")
        if group is None:
            return {}
        return {k: tuple(v.shape) for k, v in group.items() if isinstance(v, h5py.Dataset)}


def obsm_rows(path: Path, key: str, indices) -> np.ndarray:
    """Rows ``indices`` (any order, no repeats) of ``obsm[key]``, in that order."""
    import h5py

    indices = np.asarray(indices, dtype=np.int64)
    order = np.argsort(indices)
    with h5py.File(path, "r") as f:
        data = f["obsm"][key]
        if not isinstance(data, h5py.Dataset):
            raise KeyError(f"obsm[{key!r}] is not a dense array")
        rows = data[indices[order]] if indices.size else np.zeros((0, *data.shape[1:]), dtype=data.dtype)
    out = np.empty_like(rows)
    out[order] = rows
    return out


def obsm_columns(path: Path, key: str, columns: int) -> np.ndarray:
    """The first ``columns`` columns of ``obsm[key]`` for every cell, in one contiguous read (for
    a 2-D layout this is cheaper than picking scattered rows: 16 MB at a million cells)."""
    import h5py

    with h5py.File(path, "r") as f:
        return f["obsm"][key][:, :columns]


def obs_names(path: Path, indices) -> list[str]:
    """The obs names (cell identifiers) of rows ``indices``."""
    import h5py

    indices = np.asarray(indices, dtype=np.int64)
    with h5py.File(path, "r") as f:
        obs = f["obs"]
        index = obs[obs.attrs.get("_index", "_index")]
        sorted_idx = np.sort(indices)
        values = dict(zip(sorted_idx.tolist(), index[sorted_idx] if indices.size else []))
    return [v.decode() if isinstance(v, bytes) else str(v) for v in (values[i] for i in indices.tolist())]


__all__ = ["obs_names", "obsm_columns", "obsm_rows", "obsm_shapes"]
