"""Options that shape how a file becomes an AnnData, and the command-line flag of each."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class ReadOptions:
    """What the user told us about a data file (all optional).

    label, batch, id: column names (in the table, in ``obs_file`` or in an .h5ad's ``obs``); for a
        plain HDF5 file ``label`` may also name the dataset holding the labels.
    labels_file: a separate file with one label per cell, in the same row order (CSV/TXT with or
        without a header, or an idx label file); ``labels_column`` picks a column when it has several.
    obs_file: a table of per-cell metadata (same row order, or joined on ``id``) merged into ``obs``.
    meta: tables and FCS: numeric columns (channels) to keep as metadata instead of features
        (``--meta`` or ``--exclude``; each entry may be a comma-separated list).
    features: tables: identifier-like numeric columns (``ImageNumber``, ``sample``...) to keep as
        features although they look like identifiers; FCS: channels to use as features although
        they are scatter, time or unstained (``--feature`` or ``--features``).
    unlabeled: label values that mean "no label" (e.g. ``Unlabeled``); kept in ``obs`` but left
        out of label-based metrics.
    arcsinh: FCS only: transform fluorescence channels with arcsinh(x / cofactor).
    drop_nonfinite: drop cells with NaN/inf features instead of refusing the file.
    channels_last: image arrays (.npz/.npy) only: force the image layout of a 4-D array (None: infer).
    genome: 10x Genomics .h5 only: the genome to read (needed when a legacy file holds several).
    all_feature_types: 10x Genomics .h5 only: keep every feature type, not only 'Gene Expression'.
    """

    label: str | None = None
    batch: str | None = None
    id: str | None = None
    labels_file: Path | None = None
    labels_column: str | None = None
    obs_file: Path | None = None
    meta: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    unlabeled: list[str] = field(default_factory=list)
    arcsinh: float | None = None
    drop_nonfinite: bool = False
    channels_last: bool | None = None
    genome: str | None = None
    all_feature_types: bool = False

    def __post_init__(self):
        # --meta A,B and --feature A,B: each entry may list several columns
        for name in ("meta", "features"):
            values = getattr(self, name) or []
            setattr(self, name, [v.strip() for entry in values for v in str(entry).split(",") if v.strip()])


# field -> (command-line flag, what it does: said when a format refuses it)
OPTION_FLAGS: dict[str, tuple[str, str]] = {
    "label": ("--label", "it names the column that holds reference labels"),
    "batch": ("--batch", "it names the column that holds the batch"),
    "id": ("--id", "it names the column of unique cell IDs"),
    "labels_file": ("--labels", "it reads one label per cell from a separate file"),
    "labels_column": ("--labels-column", "it picks a column of the --labels file"),
    "obs_file": ("--obs", "it merges a per-cell metadata table"),
    "meta": ("--meta", "it keeps numeric columns of a table or FCS channels out of the features"),
    "features": ("--feature", "it keeps identifier-like numeric columns of a table or unstained FCS channels among the features"),
    "unlabeled": ("--unlabeled", "it names label values that mean 'no label'"),
    "arcsinh": ("--arcsinh", "it transforms the fluorescence channels of FCS files"),
    "drop_nonfinite": ("--drop-nonfinite", "it drops cells with NaN or inf values"),
    "channels_last": ("--channels-last/--channels-first", "it sets the channel axis of 4-D image arrays"),
    "genome": ("--genome", "it picks the genome of a 10x Genomics .h5 file"),
    "all_feature_types": ("--all-feature-types", "it keeps every feature type of a 10x Genomics .h5 file"),
}

# options that every format honours: labels and metadata can come from a separate file anywhere
COMMON_OPTIONS = frozenset({"label", "batch", "id", "labels_file", "labels_column", "obs_file",
                            "unlabeled", "drop_nonfinite"})


def flag(name: str, value=None) -> str:
    """The flag the user typed for option ``name`` (``--channels-first`` when it was set False)."""
    text = OPTION_FLAGS.get(name, (f"--{name.replace('_', '-')}", ""))[0]
    if "/" in text:
        on, off = text.split("/")
        return off if value is False else on
    return text


def options_set(opts: ReadOptions) -> dict:
    """The options given a value other than their default, in declaration order."""
    out = {}
    for f in fields(opts):
        default = f.default_factory() if callable(f.default_factory) else f.default
        value = getattr(opts, f.name)
        if value != default and not (value is None and default is None):
            out[f.name] = value
    return out
