"""CSV/TSV/Parquet tables: numeric columns become features, the rest per-cell metadata.

One pass over the text first (inflating a ``.gz`` under the bomb limits of :mod:`.limits`) checks
that it is UTF-8, counts its lines and measures the longest: the line count bounds the number of
rows, and Arrow's parse blocks are made large enough for the longest row. Column types are
inferred from the first block; the float32 matrix is allocated once and Arrow's record batches
(feature columns parsed straight to float32) are copied into it as they stream by. Peak memory
stays near the matrix itself (see benchmarks/bench_read_csv.py for time and memory against pandas).

Text that is not UTF-8 is refused, naming the row and column of the first bad byte, rather than
read as latin-1: a file that is mostly UTF-8 would have its other characters garbled, silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, short_list
from .identifiers import check_forced_features, is_identifier_name, keep_identifiers
from .limits import GZIP_MAGIC, MAX_LINE, open_binary, require_regular_file
from .options import COMMON_OPTIONS, ReadOptions
from .registry import Loaded, register_reader
from .validate import cell_ids, check_not_empty, check_unique_ids, require_columns

SCHEMA_BLOCK = 4 << 20  # bytes of text from which column types are inferred
READ_BLOCK = 1 << 20  # parse block: small blocks keep the memory held by Arrow small


def _delimiter(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".tsv", ".tab")):
        return "\t"
    if name.endswith(".txt"):
        try:
            with open_binary(path) as fh:
                first = fh.readline(1 << 20)
        except (OSError, EOFError):
            first = b""  # the scan that follows says what is wrong with the file
        return "\t" if b"\t" in first else ","
    return ","


def _csv_stream(path: Path):
    import pyarrow as pa

    return pa.input_stream(str(path), compression="detect")


@dataclass
class TextScan:
    """What one pass over a table's text tells: ``lines`` (newlines, plus an unterminated last
    line: a bound on rows plus the header) and ``longest`` (bytes in the longest line)."""

    lines: int
    longest: int


def _scan_text(path: Path, delimiter: str) -> TextScan:
    """One pass over the (inflated, bomb-guarded) text: count lines, measure the longest, and
    refuse text that is not UTF-8 with the row and column of its first bad byte."""
    lines, longest, leftover = 0, 0, b""
    header: bytes | None = None
    newline = b"\n"
    with open_binary(path) as fh:
        first = True
        while True:
            chunk = fh.read(8 << 20)
            if first:
                _refuse_binary_start(path, chunk)
                if b"\n" not in chunk and b"\r" in chunk:
                    newline = b"\r"  # old Mac line endings
                first = False
            if not chunk:
                break
            buf = leftover + chunk if leftover else chunk
            cut = buf.rfind(newline)
            if cut < 0:
                leftover = buf
            else:
                complete, leftover = buf[: cut + 1], buf[cut + 1:]
                if header is None:
                    header = complete[: complete.find(newline)]
                if not complete.isascii():
                    _check_utf8(path, complete, lines, header, delimiter, newline)
                longest = max(longest, _longest_line(complete, newline))
                lines += complete.count(newline)
            if len(leftover) > MAX_LINE:
                raise InputError(f"line {lines + 1} of {path} is longer than {MAX_LINE >> 20} MB",
                                 "check that the file is a CSV/TSV table with one cell per line")
    if leftover:
        header = header if header is not None else leftover
        if not leftover.isascii():
            _check_utf8(path, leftover, lines, header, delimiter, newline)
        longest = max(longest, len(leftover))
        lines += 1
    return TextScan(lines, longest)


def _longest_line(block: bytes, newline: bytes, window: int = 448 << 10) -> int:
    """Bytes in the longest line of ``block`` (whole lines), or an upper bound below the parse
    block when every window of the block holds a line end (the common, cheap case)."""
    if all(block.find(newline, start, start + window) >= 0 for start in range(0, len(block), window)):
        return min(2 * window, len(block))
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == newline[0])
    return int(np.diff(ends, prepend=-1).max())


def _refuse_binary_start(path: Path, start: bytes) -> None:
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(f"{path} is UTF-16 text (as Excel's 'Unicode text' writes it), not UTF-8",
                         "save it as UTF-8 (in Excel: Save As 'CSV UTF-8')")
    if start[:2] == GZIP_MAGIC:
        raise InputError(f"{path} is gzip-compressed but its name does not end in .gz",
                         f"rename it to {path.name}.gz")


def _fields(text: str, delimiter: str) -> list[str]:
    import csv

    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return text.split(delimiter)


def _check_utf8(path: Path, block: bytes, first_line: int, header: bytes, delimiter: str,
                newline: bytes = b"\n") -> None:
    """``block`` (whole lines, the first being 0-based line ``first_line``) must be UTF-8."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line = first_line + block.count(newline, 0, pos)
        start = max(block.rfind(b"\n", 0, pos), block.rfind(b"\r", 0, pos)) + 1
        column = len(_fields(block[start:pos].decode("utf-8", errors="replace"), delimiter)) or 1
        try:
            names = _fields(header.decode("utf-8").rstrip("\r"), delimiter)
        except UnicodeDecodeError:
            names = []
        name = f"column '{names[column - 1]}'" if 0 < column <= len(names) else f"column {column}"
        where = f"the header line, {name}" if line == 0 else f"row {line} (line {line + 1}), {name}"
        raise InputError(f"{path} is not UTF-8 text: byte 0x{block[pos]:02x} in {where}",
                         "save the file as UTF-8 (in Excel: Save As 'CSV UTF-8'), or convert it, "
                         "e.g. iconv -f latin1 -t utf-8") from None


def _csv_reader(path: Path, block_size: int, column_types=None):
    import pyarrow.csv as pacsv

    convert = pacsv.ConvertOptions(strings_can_be_null=True, column_types=column_types or {})
    return pacsv.open_csv(_csv_stream(path), read_options=pacsv.ReadOptions(block_size=block_size),
                          parse_options=pacsv.ParseOptions(delimiter=_delimiter(path)), convert_options=convert)


def _block_size(scan: TextScan, least: int) -> int:
    """A parse block holds at least one whole row (Arrow refuses a row that straddles blocks)."""
    return max(least, scan.longest + (64 << 10))


def _csv_schema(path: Path, scan: TextScan):
    """Column names and types, inferred from the first block of the file; a column that is empty
    throughout that block is typed as text (later rows may hold values)."""
    import pyarrow as pa

    try:
        with _csv_reader(path, _block_size(scan, SCHEMA_BLOCK)) as reader:
            schema = reader.schema
        names = schema.names
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} as a table ({_first_line(exc)})",
                         "check that it is a complete CSV/TSV file") from None
    if any(pa.types.is_null(f.type) for f in schema):
        schema = pa.schema([pa.field(n, pa.string() if pa.types.is_null(f.type) else f.type)
                            for n, f in zip(names, schema)])
    return schema


def _csv_batches(path: Path, scan: TextScan, schema, features: list[str], candidates=()):
    """(row upper bound, record batches) with feature columns parsed straight to float32 (and
    identifier candidates to float64, which takes any number a later row may hold)."""
    import pyarrow as pa

    types = {f.name: (pa.float32() if f.name in features else pa.float64() if f.name in candidates else f.type)
             for f in schema}
    return max(scan.lines - 1, 0), _csv_reader(path, _block_size(scan, READ_BLOCK), types)


def _parquet_file(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete Parquet file")
    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError) as exc:
        raise InputError(f"cannot read {path} as Parquet ({_first_line(exc)})",
                         "the file is corrupt or truncated; export it again") from None


def _parquet_schema(pf, path: Path):
    """The Arrow schema, with nested and binary columns (lists, structs, maps, bytes) refused:
    they are no per-cell value that a feature matrix or ``obs`` can hold."""
    import pyarrow as pa

    try:
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError) as exc:
        raise InputError(f"cannot read {path} as Parquet ({_first_line(exc)})",
                         "the file is corrupt or truncated; export it again") from None
    for f in schema:
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t) \
                or pa.types.is_fixed_size_binary(t):
            raise InputError(f"column '{f.name}' of {path} holds {t} values, not one number or text per cell",
                             "drop or flatten that column before exporting the table")
    return schema


def _obs_column(values) -> pd.Series | np.ndarray:
    """An Arrow column as an ``obs`` column AnnData can store: an all-missing column as float NaN
    (a column of None cannot be written), dates and times as ISO text, true/false with gaps as
    pandas' nullable boolean."""
    import pyarrow as pa

    t = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if values.null_count == len(values):
        return np.full(len(values), np.nan)
    if pa.types.is_dictionary(values.type) and (pa.types.is_temporal(t) or pa.types.is_boolean(t)):
        values = values.cast(t)
    if pa.types.is_temporal(t):
        return values.cast(pa.string()).to_pandas()
    if pa.types.is_boolean(t) and values.null_count:
        return pd.array(values.to_pylist(), dtype="boolean")
    return values.to_pandas()


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
        schema = _parquet_schema(pf, path)
    else:
        if path.stat().st_size == 0:
            raise InputError(f"{path} is empty", "point to a file with a header line and data rows")
        scan = _scan_text(path, _delimiter(path))
        schema = _csv_schema(path, scan)
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
            n_rows, batches = _csv_batches(path, scan, schema, features, candidates)
        X, parts = _fill(batches, n_rows, features, obs_cols)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        msg = _first_line(exc)
        col = _column_in_error(msg, names)
        fix = (f"fix the value, or pass --meta {col} to keep that column as metadata" if col
               else "check that the file is a complete, well-formed table")
        raise InputError(f"cannot parse {path}: {msg}", fix) from None
    except (OSError, EOFError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {path} ({_first_line(exc)})", "the file is corrupt or truncated") from None
    if not numeric:
        if X.shape[0] == 0:
            raise InputError(f"{path} has no cells (no data rows after the header)", "check that the file is complete")
        raise InputError(f"{path} has no numeric feature columns (columns: {short_list(names, 8)})",
                         "features must be numbers; check the delimiter and the header")
    columns = {c: pa.chunked_array(p, type=p[0].type if p else schema.field(c).type) for c, p in parts.items()}
    _refuse_invalid_text(columns, path)
    _refuse_almost_numeric(columns, meta_cols, path)
    obs = pd.DataFrame({c: _obs_column(columns[c]) for c in obs_cols})
    X, features, kept = keep_identifiers(X, features, numeric, candidates, obs)
    if not features:
        listed = short_list([f"{c}: {r}" for c, r in kept.items()], 3)
        raise InputError(f"{path} has no features left: every numeric column looks like an identifier ({listed})",
                         f"pass --feature {next(iter(kept))} (repeatable) to use such a column as a feature")
    return X, features, obs, id_col, kept


def _refuse_invalid_text(columns: dict, path: Path) -> None:
    """Text that is not UTF-8 (a damaged Parquet file can hold it; Arrow's CSV reader refuses it
    while parsing) would fail later, on the first conversion to Python text."""
    import pyarrow as pa

    for col, values in columns.items():
        try:
            values.validate(full=True)
        except pa.ArrowException as exc:
            raise InputError(f"column '{col}' of {path} holds invalid values ({_first_line(exc)})",
                             "the file is corrupt or was written with the wrong encoding; export it again") from None


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
    require_regular_file(path, "--obs file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "the --obs file needs a header and one row per cell")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        with open_binary(path) as fh:  # a .gz is inflated under the bomb limits
            return pd.read_csv(fh, sep=_delimiter(path), low_memory=False, compression=None)
    except InputError:
        raise
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
        obs.index = pd.Index(cell_ids(obs.pop(id_col), id_col, str(path)), dtype=object)
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
