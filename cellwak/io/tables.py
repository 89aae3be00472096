"""CSV/TSV/Parquet tables: numeric columns become features, the rest per-cell metadata.

Column types are inferred from the first block; a newline count bounds the number of rows, so the
float32 matrix is allocated once and Arrow's record batches (feature columns parsed straight to
float32) are copied into it as they stream by. Peak memory stays near the matrix itself (see
benchmarks/bench_read_csv.py for time and memory against pandas).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, short_list
from .identifiers import check_forced_features, is_identifier_name, keep_identifiers
from .options import COMMON_OPTIONS, ReadOptions
from .registry import Loaded, register_reader
from .validate import check_not_empty, check_unique_ids, require_columns

SCHEMA_BLOCK = 4 << 20  # bytes of text from which column types are inferred
READ_BLOCK = 1 << 20  # parse block: small blocks keep the memory held by Arrow small


def _delimiter(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".tsv", ".tab")):
        return "\t"
    if name.endswith(".txt"):
        import gzip

        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", errors="replace") as fh:
            first = fh.readline()
        return "\t" if "\t" in first else ","
    return ","


def _csv_stream(path: Path):
    import pyarrow as pa

    return pa.input_stream(str(path), compression="detect")


def _csv_schema(path: Path):
    """Column names and types, inferred from the first block of the file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a file with a header line and data rows")
    try:
        with _csv_stream(path) as stream:
            reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=SCHEMA_BLOCK),
                                    parse_options=pacsv.ParseOptions(delimiter=_delimiter(path)),
                                    convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
            return reader.schema
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} as a table ({_first_line(exc)})",
                         "check that it is a complete CSV/TSV file") from None


def _count_lines(path: Path) -> int:
    """Newlines in the (decompressed) file: an upper bound on data rows plus the header."""
    lines, last = 0, b"\n"
    with _csv_stream(path) as stream:
        while True:
            chunk = stream.read(16 << 20)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _csv_batches(path: Path, schema, features: list[str], candidates=()):
    """(row upper bound, record batches) with feature columns parsed straight to float32 (and
    identifier candidates to float64, which takes any number a later row may hold)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {f.name: (pa.float32() if f.name in features else pa.float64() if f.name in candidates else f.type)
             for f in schema}
    stream = _csv_stream(path)
    reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=READ_BLOCK),
                            parse_options=pacsv.ParseOptions(delimiter=_delimiter(path)),
                            convert_options=pacsv.ConvertOptions(strings_can_be_null=True, column_types=types))
    return max(_count_lines(path) - 1, 0), reader


def _parquet_file(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete Parquet file")
    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet ({_first_line(exc)})",
                         "the file is corrupt or truncated; export it again") from None


def _fill(batches, n_rows: int, features: list[str], obs_cols: list[str]):
    """Copy batches into one preallocated float32 matrix; collect metadata columns as Arrow."""
    X = np.empty((n_rows, len(features)), dtype=np.float32)
    parts = {c: [] for c in obs_cols}
    row = 0
    for batch in batches:
        m = batch.num_rows
        if row + m > X.shape[0]:  # the estimate was short (cannot happen for counted lines)
            X = np.concatenate([X[:row], np.empty((max(row + m, 2 * X.shape[0]) - row, len(features)), np.float32)])
        for j, name in enumerate(features):
            X[row:row + m, j] = batch.column(name).to_numpy(zero_copy_only=False)
        for c in obs_cols:
            parts[c].append(batch.column(c))
        row += m
    return X[:row], parts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _is_numeric(arrow_type) -> bool:
    import pyarrow.types as t

    return (t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_decimal(arrow_type)) \
        and not t.is_boolean(arrow_type)


def read_table(path: Path, fmt: str, opts: ReadOptions, external_columns=()):
    """Read a table into (X float32, feature names, obs DataFrame, id column, kept_as_metadata).

    ``external_columns`` are names that may instead be found in an ``--obs`` file, so an option
    naming one of them is not an error here. ``kept_as_metadata`` maps the identifier-like numeric
    columns kept out of the features (see :mod:`.identifiers`) to the reason.
    """
    import pyarrow as pa

    if fmt == "parquet":
        pf = _parquet_file(path)
        schema = pf.schema_arrow
    else:
        schema = _csv_schema(path)
    names = list(schema.names)
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(f"{path} has duplicate column names ({short_list(dups)})",
                         "rename the columns so each is unique")
    id_col = opts.id
    if id_col is None and names and names[0] in ("", "Unnamed: 0"):
        id_col = names[0]  # an unnamed first column is the row index written by pandas or R
    explicit = {"--id": opts.id, "--label": opts.label, "--batch": opts.batch}
    require_columns({k: v for k, v in explicit.items() if v not in external_columns},
                    names, str(path))
    for col in opts.meta:
        require_columns({"--meta": col}, names, str(path))
    meta_cols = {c for c in (id_col, opts.label, opts.batch, *opts.meta) if c in names}
    numeric = [f.name for f in schema if _is_numeric(f.type) and f.name not in meta_cols]
    check_forced_features(opts.features, names, numeric, meta_cols, schema, path)
    candidates = [c for c in numeric if c not in opts.features and is_identifier_name(c)]
    features = [c for c in numeric if c not in candidates]
    obs_cols = [n for n in names if n not in features]
    try:
        if fmt == "parquet":
            n_rows, batches = pf.metadata.num_rows, pf.iter_batches(batch_size=1 << 16)
        else:
            n_rows, batches = _csv_batches(path, schema, features, candidates)
        X, parts = _fill(batches, n_rows, features, obs_cols)
    except pa.ArrowInvalid as exc:
        msg = _first_line(exc)
        col = _column_in_error(msg, names)
        fix = (f"fix the value, or pass --meta {col} to keep that column as metadata" if col
               else "check that the file is a complete, well-formed table")
        raise InputError(f"cannot parse {path}: {msg}", fix) from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} ({_first_line(exc)})", "the file is corrupt or truncated") from None
    if not numeric:
        if X.shape[0] == 0:
            raise InputError(f"{path} has no cells (no data rows after the header)", "check that the file is complete")
        raise InputError(f"{path} has no numeric feature columns (columns: {short_list(names, 8)})",
                         "features must be numbers; check the delimiter and the header")
    columns = {c: pa.chunked_array(p, type=p[0].type if p else schema.field(c).type) for c, p in parts.items()}
    _refuse_almost_numeric(columns, meta_cols, path)
    obs = pd.DataFrame({c: columns[c].to_pandas() for c in obs_cols})
    X, features, kept = keep_identifiers(X, features, numeric, candidates, obs)
    if not features:
        listed = short_list([f"{c}: {r}" for c, r in kept.items()], 3)
        raise InputError(f"{path} has no features left: every numeric column looks like an identifier ({listed})",
                         f"pass --feature {next(iter(kept))} (repeatable) to use such a column as a feature")
    return X, features, obs, id_col, kept


def _refuse_almost_numeric(columns: dict, declared: set, path: Path) -> None:
    """A text column whose values are nearly all numbers is a feature with a typo in it:
    refuse it rather than silently keeping it out of the features."""
    import pyarrow as pa

    for col, values in columns.items():
        if col in declared:
            continue
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            continue
        series = values.to_pandas().dropna()
        if series.empty:
            continue
        parsed = pd.to_numeric(series, errors="coerce")
        bad = parsed.isna()
        if 0 < bad.sum() and (~bad).mean() >= 0.9:
            first = series[bad].index[0]
            raise InputError(f"column '{col}' of {path} is numeric except for {int(bad.sum())} value(s) such as "
                             f"{series[first]!r} (row {first + 1})",
                             f"fix those values, or pass --meta {col} to keep the column as metadata")


def _column_in_error(message: str, names) -> str | None:
    import re

    m = re.search(r"column #(\d+)", message)
    if m and int(m.group(1)) < len(names):
        return names[int(m.group(1))]
    return None


def read_obs_table(path: Path) -> pd.DataFrame:
    """A small per-cell metadata table (``--obs``), read whole with pandas."""
    if not path.exists():
        raise InputError(f"no such file: {path}", "check the --obs path")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "the --obs file needs a header and one row per cell")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=_delimiter(path), low_memory=False)
    except Exception as exc:  # pandas raises many types for malformed text
        raise InputError(f"cannot read --obs file {path} ({_first_line(exc)})",
                         "it must be a CSV/TSV/Parquet table with a header") from None


def _read(path: Path, opts: ReadOptions) -> Loaded:
    """A table -> AnnData; --id and --obs are applied here (the --obs file may hold the IDs)."""
    import anndata as ad

    external = tuple(read_obs_table(Path(opts.obs_file).expanduser()).columns) if opts.obs_file else ()
    fmt = "parquet" if path.name.lower().endswith((".parquet", ".pq")) else "csv"
    X, features, obs, id_col, kept = read_table(path, fmt, opts, external)
    check_not_empty(X.shape[0], X.shape[1], str(path))
    if id_col is not None and id_col in obs:
        ids = obs.pop(id_col).astype(str)
        obs.index = pd.Index(ids.to_numpy())
        check_unique_ids(obs.index, id_col)
    else:
        obs.index = pd.RangeIndex(X.shape[0]).astype(str)
    if opts.obs_file is not None:
        from .labels import merge_obs_file

        obs = merge_obs_file(obs, opts.obs_file, id_col)
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=pd.Index(features, dtype=str)))
    info = {"id_key": id_col} if id_col else {}
    if kept:
        info["kept_as_metadata"] = kept
    return Loaded(adata, info, handled=frozenset({"id", "obs_file"}))


TABLE_OPTIONS = COMMON_OPTIONS | {"meta", "features"}
register_reader("csv", kind="CSV/TSV tables", suffixes=(".csv", ".tsv", ".tab", ".txt", ".csv.gz", ".tsv.gz",
                                                        ".tab.gz", ".txt.gz"),
                read=_read, options=TABLE_OPTIONS,
                description="one row per cell; numeric columns are features, the others per-cell metadata")
register_reader("parquet", kind="Parquet tables", suffixes=(".parquet", ".pq"), read=_read, options=TABLE_OPTIONS,
                description="one row per cell; numeric columns are features, the others per-cell metadata")
