"""Per-cell annotations that arrive in separate files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, NotFoundError, short_list
from .idx import is_idx, read_idx
from .tables import _delimiter, read_obs_table


def read_labels_file(path: Path, n_cells: int, column: str | None = None) -> pd.Series:
    """One label per cell, in the data's row order.

    A one-column text file may have a header line or not: with ``n_cells`` lines it has none,
    with ``n_cells + 1`` the first line is the header. A file with several columns needs a
    header and ``column`` (or a column called ``label``).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise NotFoundError(f"no such labels file: {path}", "check the --labels path")
    if path.stat().st_size == 0:
        raise InputError(f"labels file {path} is empty", "it needs one label per cell")
    if is_idx(path):
        values = read_idx(path)
        if values.ndim != 1:
            raise InputError(f"labels file {path} holds an array of shape {values.shape}",
                             "an idx labels file must be 1-D")
        series = pd.Series(values.astype(str), name="label")
    else:
        try:
            raw = pd.read_csv(path, header=None, sep=_delimiter(path), dtype=str,
                              keep_default_na=False, skip_blank_lines=False)
        except Exception as exc:
            raise InputError(f"cannot read labels file {path} ({str(exc).splitlines()[0][:120]})",
                             "use a text file with one label per line") from None
        if raw.shape[1] == 1:
            col = raw.iloc[:, 0]
            if len(col) == n_cells + 1:
                series = col.iloc[1:].reset_index(drop=True).rename(str(col.iloc[0]) or "label")
            else:
                series = col.rename("label")
        else:
            header = [str(h) for h in raw.iloc[0]]
            chosen = column or ("label" if "label" in header else None)
            if chosen is None or chosen not in header:
                raise InputError(f"labels file {path} has {raw.shape[1]} columns ({short_list(header, 8)})",
                                 "pick one with --labels-column, or use --obs to merge them all")
            series = raw.iloc[1:, header.index(chosen)].reset_index(drop=True).rename(chosen)
        series = series.replace("", np.nan)
    if len(series) != n_cells:
        raise InputError(f"labels file {path} has {len(series)} labels but the data has {n_cells} cells",
                         "it must hold exactly one label per cell, in the same order")
    return series


def merge_obs_file(obs: pd.DataFrame, path: Path, id_column: str | None) -> pd.DataFrame:
    """Merge a per-cell metadata table into ``obs``: by ID when both sides have it, else by order."""
    meta = read_obs_table(Path(path).expanduser())
    key = None
    if id_column and id_column in meta.columns:
        key = id_column
    else:
        first = meta.columns[0]
        if meta[first].astype(str).isin(obs.index).all() and len(meta) == len(obs):
            key = first
    if key is not None:
        meta = meta.set_index(meta[key].astype(str)).drop(columns=[key])
        if not meta.index.is_unique:
            raise InputError(f"--obs file {path}: IDs in '{key}' are not unique", "deduplicate the file")
        missing = obs.index.difference(meta.index)
        if len(missing):
            raise InputError(f"--obs file {path} has no row for {len(missing)} cells ({short_list(missing)})",
                             "it needs one row per cell")
        meta = meta.loc[obs.index]
    elif len(meta) != len(obs):
        raise InputError(f"--obs file {path} has {len(meta)} rows but the data has {len(obs)} cells",
                         "give one row per cell in the same order, or an ID column shared with the data")
    else:
        meta.index = obs.index
    meta = meta.drop(columns=[c for c in meta.columns if c in obs.columns])
    return pd.concat([obs, meta], axis=1)
