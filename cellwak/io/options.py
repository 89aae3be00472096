"""Options that shape how a file becomes an AnnData."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ReadOptions:
    """What the user told us about a data file (all optional).

    label, batch, id: column names (in the table, in ``obs_file`` or in an .h5ad's ``obs``).
    labels_file: a separate file with one label per cell, in the same row order (CSV/TXT with or
        without a header, or an idx label file); ``labels_column`` picks a column when it has several.
    obs_file: a table of per-cell metadata (same row order, or joined on ``id``) merged into ``obs``.
    meta: numeric columns to keep as metadata instead of features.
    unlabeled: label values that mean "no label" (e.g. ``Unlabeled``); kept in ``obs`` but left
        out of label-based metrics.
    arcsinh: FCS only: transform fluorescence channels with arcsinh(x / cofactor).
    drop_nonfinite: drop cells with NaN/inf features instead of refusing the file.
    channels_last: force the image layout of a 4-D array (None: infer).
    """

    label: str | None = None
    batch: str | None = None
    id: str | None = None
    labels_file: Path | None = None
    labels_column: str | None = None
    obs_file: Path | None = None
    meta: list[str] = field(default_factory=list)
    unlabeled: list[str] = field(default_factory=list)
    arcsinh: float | None = None
    drop_nonfinite: bool = False
    channels_last: bool | None = None
