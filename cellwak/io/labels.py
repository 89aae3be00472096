"""Per-cell annotations that arrive in separate files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, NotFoundError, short_list
from .idx import is_idx, read_idx
from .limits import open_binary, require_regular_file
from .tables import _delimiter, read_obs_table

# values that mean "no label", as Arrow reads them in a table's text columns (and pandas, R and
# Excel write them); a blank value (also whitespace only) means no label too
MISSING_LABELS = frozenset({"", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "-nan", "-NaN", "NULL", "null",
                            "None", "#NA", "<NA>"})


def read_labels_file(path: Path, n_cells: int, column: str | None = None) -> pd.Series:
    """One label per cell, in the data's row order; a blank value or one of ``MISSING_LABELS``
    is a cell without a label (NaN: left out of metrics, never a class).

    A one-column text file may have a header line or not: with ``n_cells`` lines it has none,
    with ``n_cells + 1`` the first line is the header. Blank lines at the end that make the file
    longer than that are the editor's, not cells. A file with several columns needs a header and
    ``column`` (or a column called ``label``).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise NotFoundError(f"no such labels file: {path}", "check the --labels path")
    require_regular_file(path, "labels file")
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
            with open_binary(path) as fh:  # a .gz is inflated under the bomb limits
                raw = pd.read_csv(fh, header=None, sep=_delimiter(path), dtype=str, keep_default_na=False,
                                  skip_blank_lines=False, compression=None, encoding="utf-8")
        except InputError:
            raise
        except UnicodeDecodeError:
            raise InputError(f"labels file {path} is not UTF-8 text",
                             "save it as UTF-8 (or convert it, e.g. iconv -f latin1 -t utf-8)") from None
        except Exception as exc:
            raise InputError(f"cannot read labels file {path} ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})",
                             "use a text file with one label per line") from None
        raw = raw.fillna("")
        while len(raw) > n_cells and len(raw) and not "".join(raw.iloc[-1]).strip():
            raw = raw.iloc[:-1]  # trailing blank lines
        if raw.shape[1] == 1:
            col = raw.iloc[:, 0]
            if len(col) == n_cells + 1:
                series = col.iloc[1:].reset_index(drop=True).rename(str(col.iloc[0]).strip() or "label")
            else:
                series = col.rename("label")
        else:
            header = [str(h).strip() for h in raw.iloc[0]]
            chosen = column or ("label" if "label" in header else None)
            if chosen is None or chosen not in header:
                raise InputError(f"labels file {path} has {raw.shape[1]} columns ({short_list(header, 8)})",
                                 "pick one with --labels-column, or use --obs to merge them all")
            series = raw.iloc[1:, header.index(chosen)].reset_index(drop=True).rename(chosen)
        series = series.str.strip()
        series = series.where(~series.isin(MISSING_LABELS), np.nan)
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
