"""STRING's flat files (string-db.org, "download" page; plain or ``.gz``) and tables of gene pairs.

* ``protein.links.vX.txt`` (space-separated; header ``protein1 protein2 combined_score``) and
  ``protein.links.detailed.vX.txt`` / ``protein.links.full.vX.txt`` (more score columns before or
  after ``combined_score``): one line per directed protein pair, scores 0-1000.
* ``protein.info.vX.txt`` (tab-separated; header ``#string_protein_id preferred_name
  protein_size annotation``, ``string_protein_id`` in older releases).
* ``protein.aliases.vX.txt`` (tab-separated; header ``#string_protein_id alias source``, in v11
  ``## string_protein_id ## alias ## source ##``).
* a pair table: a CSV/TSV of gene pairs, one interaction a row (like the DeePWAK screen's
  ``interactions.csv``: ``"", khid.x, khid.y, name.x, name.y``), read by :func:`read_pairs`.

Every reader refuses a file of another format with one line naming the file, the line and the
column; large files are read in chunks and, when the caller names what it needs (``proteins``,
``names``), only the matching rows are kept, so a whole species' links file (millions of lines)
never sits in memory.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, NotFoundError, short_list
from .limits import open_binary, require_regular_file

LINKS_COLUMNS = ("protein1", "protein2", "combined_score")
INFO_COLUMNS = ("string_protein_id", "preferred_name")
ALIAS_COLUMNS = ("string_protein_id", "alias")
CHUNK = 1_000_000
# the two gene columns of a pair table, by name (lower case), first match wins
PAIR_COLUMNS = (("name.x", "name.y"), ("gene1", "gene2"), ("gene_a", "gene_b"), ("genea", "geneb"),
                ("preferred_name_a", "preferred_name_b"), ("node1", "node2"), ("protein1", "protein2"),
                ("source", "target"), ("from", "to"), ("a", "b"))


def name_key(name) -> str:
    """A gene name as matched loosely: lower case, letters and digits only (``Gna12/13``,
    ``GNA12.13`` and ``gna12-13`` are one key; R's make.names turns '/' and '-' into '.')."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def name_keys(values: pd.Series) -> pd.Series:
    return values.astype(str).str.lower().str.replace(r"[^0-9a-z]", "", regex=True)


def _check_file(path, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise NotFoundError(f"no such {what}: {p}", "check the path")
    require_regular_file(p, what)
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder", "give the file itself")
    if p.stat().st_size == 0:
        raise InputError(f"{what} {p} is empty", "download it again from string-db.org")
    return p


def _text(p: Path, what: str):
    raw = open_binary(p)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")


def _first_line(fh, p: Path, what: str) -> str:
    try:
        line = fh.readline(1 << 20)
    except UnicodeDecodeError:
        raise InputError(f"{what} {p} is not UTF-8 text", "give STRING's text file (plain or .gz)") from None
    if not line.strip():
        raise InputError(f"{what} {p} has no header on line 1", "give STRING's file with its header line")
    return line.rstrip("\r\n")


def _header_names(line: str, sep: str) -> list[str]:
    if line.lstrip().startswith("##"):  # STRING v11: '## string_protein_id ## alias ## source ##'
        return line.replace("#", " ").split()
    parts = line.split(sep) if sep != " " else line.split()
    return [parts[0].lstrip("#").strip(), *[c.strip() for c in parts[1:]]] if parts else []


def _parser_line(exc: Exception, offset: int) -> str:
    """The line of the file a pandas parser error points at (``offset``: lines before the data)."""
    m = re.search(r"line (\d+)", str(exc))
    return f"line {int(m.group(1)) + offset}" if m else "a line"


def _chunks(fh, p: Path, what: str, names: list[str], sep: str, usecols, offset: int):
    """(first line number, frame) per chunk of the data lines of an open file (header read)."""
    try:
        reader = pd.read_csv(fh, sep=sep, header=None, names=names, usecols=usecols, dtype=str, chunksize=CHUNK,
                             na_filter=False, quoting=csv.QUOTE_NONE, engine="c", skipinitialspace=sep == " ",
                             skip_blank_lines=True)
        line = offset + 1
        for chunk in reader:
            yield line, chunk
            line += len(chunk)
    except (InputError, NotFoundError):
        raise
    except UnicodeDecodeError:
        raise InputError(f"{what} {p} is not UTF-8 text", "give STRING's text file (plain or .gz)") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{what} {p}: {_parser_line(exc, offset)} does not have the {len(names)} columns of the "
                         f"header ({' '.join(names)})", "the file is damaged or not this kind of STRING file") from None


def _require(columns: list[str], required, p: Path, what: str, expected: str):
    missing = [c for c in required if c not in columns]
    if missing:
        shown = short_list(columns, 6) if columns else "nothing"
        raise InputError(f"{what} {p}: line 1 has the columns {shown}, not {', '.join(missing)}",
                         f"expected {expected}")


def _blank(frame: pd.DataFrame, columns, p: Path, what: str, first: int) -> None:
    for c in columns:
        empty = (frame[c].str.strip() == "").to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise InputError(f"{what} {p}: line {first + i} has no {c}",
                             "the file is damaged or not this kind of STRING file")


def _links_header(fh, p: Path, what: str) -> tuple[list[str], str]:
    header = _first_line(fh, p, what)
    sep = "\t" if "\t" in header else " "
    columns = _header_names(header, sep)
    _require(columns, LINKS_COLUMNS, p, what,
             "a space-separated header 'protein1 protein2 combined_score' (protein.links.vN.txt or "
             "protein.links.detailed.vN.txt)")
    return columns, sep


def check_links(path) -> None:
    """Refuse a file that is not STRING links by its header alone (before the slow full read)."""
    what = "STRING links file"
    p = _check_file(path, what)
    with _text(p, what) as fh:
        _links_header(fh, p, what)


def read_links(path, *, proteins=None, min_score: int = 0) -> pd.DataFrame:
    """STRING links (``protein1 protein2 combined_score``, plain or detailed) as a table with
    those three columns (scores as integers), only the rows with ``combined_score >= min_score``
    and, when ``proteins`` is given, only links between two of them."""
    what = "STRING links file"
    p = _check_file(path, what)
    wanted = None if proteins is None else set(map(str, proteins))
    frames = []
    with _text(p, what) as fh:
        columns, sep = _links_header(fh, p, what)
        for first, chunk in _chunks(fh, p, what, columns, sep, None, 1):
            _blank(chunk, LINKS_COLUMNS, p, what, first)
            score = pd.to_numeric(chunk["combined_score"], errors="coerce")
            bad = (score.isna() | (score < 0) | (score > 1000) | (score != np.floor(score))).to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"{what} {p}: line {first + i}: combined_score "
                                 f"{chunk['combined_score'].iloc[i]!r} is not a whole number from 0 to 1000",
                                 "the file is damaged or not a STRING links file")
            keep = (score >= min_score).to_numpy()
            if wanted is not None:
                keep &= chunk["protein1"].isin(wanted).to_numpy() & chunk["protein2"].isin(wanted).to_numpy()
            part = chunk.loc[keep, ["protein1", "protein2"]].copy()
            part["combined_score"] = score[keep].astype(np.int64).to_numpy()
            frames.append(part)
    if not frames:
        return pd.DataFrame({"protein1": pd.Series(dtype=str), "protein2": pd.Series(dtype=str),
                             "combined_score": pd.Series(dtype=np.int64)})
    return pd.concat(frames, ignore_index=True)


def _tab_table(path, what: str, required, expected: str, *, keep_rows=None) -> pd.DataFrame:
    p = _check_file(path, what)
    frames = []
    with _text(p, what) as fh:
        header = _first_line(fh, p, what)
        if "\t" not in header and not header.lstrip().startswith("##"):
            names = _header_names(header, " ")
            if all(c in names for c in required):
                raise InputError(f"{what} {p}: line 1 is not tab-separated", f"expected {expected}")
        columns = _header_names(header, "\t")
        _require(columns, required, p, what, expected)
        for first, chunk in _chunks(fh, p, what, columns, "\t", list(columns), 1):
            _blank(chunk, required, p, what, first)
            frames.append(chunk if keep_rows is None else chunk[keep_rows(chunk)])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in columns})
    return pd.concat(frames, ignore_index=True)


def read_info(path) -> pd.DataFrame:
    """STRING protein info: ``string_protein_id``, ``preferred_name`` (and ``protein_size``,
    ``annotation`` when present), one row per protein."""
    return _tab_table(path, "STRING info file", INFO_COLUMNS,
                      "tab-separated columns '#string_protein_id preferred_name protein_size annotation' "
                      "(protein.info.vN.txt)")


def read_aliases(path, *, names=None) -> pd.DataFrame:
    """STRING aliases: ``string_protein_id``, ``alias`` (, ``source``); with ``names``, only the
    rows whose alias matches one of them loosely (:func:`name_key`)."""
    keys = None if names is None else {name_key(n) for n in names}
    keep = None if keys is None else (lambda chunk: name_keys(chunk["alias"]).isin(keys).to_numpy())
    return _tab_table(path, "STRING aliases file", ALIAS_COLUMNS,
                      "tab-separated columns '#string_protein_id alias source' (protein.aliases.vN.txt)",
                      keep_rows=keep)


@dataclass
class PairTable:
    pairs: pd.DataFrame     # columns a, b: gene names, one interaction a row
    columns: tuple          # the file's two columns they came from


def read_pairs(path) -> PairTable:
    """A table of interacting gene pairs (CSV, or TSV when the header holds tabs): the two gene
    columns are ``name.x``/``name.y``, ``gene1``/``gene2``, ``node1``/``node2``,
    ``protein1``/``protein2``, ``source``/``target``, ... (:data:`PAIR_COLUMNS`), or the only two
    columns. Other columns (scores, identifiers) are ignored."""
    what = "pair table"
    p = _check_file(path, what)
    with _text(p, what) as fh:
        header = _first_line(fh, p, what)
        sep = "\t" if "\t" in header else ","
        try:
            frame = pd.read_csv(fh, sep=sep, header=None, dtype=str, keep_default_na=False, na_filter=False,
                                skip_blank_lines=True, names=None, engine="c")
        except UnicodeDecodeError:
            raise InputError(f"{what} {p} is not UTF-8 text", "save it as UTF-8") from None
        except pd.errors.EmptyDataError:
            raise InputError(f"{what} {p} has a header but no pairs", "it needs one interacting pair a line") from None
        except pd.errors.ParserError as exc:
            raise InputError(f"{what} {p}: {_parser_line(exc, 1)} has more columns than the others",
                             "the file is damaged or not a table of pairs") from None
    columns = [c.strip().strip('"') for c in next(csv.reader([header], delimiter=sep))]
    if frame.shape[1] != len(columns):
        raise InputError(f"{what} {p}: line 1 has {len(columns)} columns but the rows have {frame.shape[1]}",
                         "give a table with one header line and one interacting pair a row")
    frame.columns = columns
    lower = {c.lower().lstrip("#"): c for c in columns}
    chosen = next(((lower[a], lower[b]) for a, b in PAIR_COLUMNS if a in lower and b in lower), None)
    if chosen is None:
        named = [c for c in columns if c]
        if len(named) != 2:
            raise InputError(f"{what} {p}: no two gene columns among {short_list(columns, 8)}",
                             "name them name.x and name.y (or gene1 and gene2, node1 and node2)")
        chosen = tuple(named)
    pairs = frame[list(chosen)].apply(lambda s: s.str.strip().str.strip('"'))
    pairs.columns = ["a", "b"]
    empty = ((pairs["a"] == "") | (pairs["b"] == "")).to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(f"{what} {p}: line {i + 2} has no gene in column {chosen[0] if pairs['a'].iloc[i] == '' else chosen[1]!r}",
                         "give two gene names on every line")
    if pairs.empty:
        raise InputError(f"{what} {p} has a header but no pairs", "it needs one interacting pair a line")
    return PairTable(pairs=pairs.reset_index(drop=True), columns=chosen)


__all__ = ["PairTable", "check_links", "name_key", "name_keys", "read_aliases", "read_info", "read_links", "read_pairs"]
