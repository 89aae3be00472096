"""The reader registry: one :class:`Reader` record per format, registered from the format's module.

A new format is one module that defines a read function and calls :func:`register_reader`, plus
one import in ``read.py``. ``read()`` finds the reader by suffix and content, refuses options the
format ignores, and applies what is common to every format (labels, --obs, --id, validation).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .options import COMMON_OPTIONS, OPTION_FLAGS, ReadOptions, flag, options_set


@dataclass
class Loaded:
    """What a read function returns.

    info: entries for ``uns['cellwak']['dataset']`` (``source`` may be replaced).
    label_key: an obs column the format itself filled with labels (e.g. image class folders).
    handled: options the read function applied itself (``id``, ``obs_file``, ``label``), so the
        common steps leave them alone.
    labels_file: a labels file found beside the data, used unless the user gave --labels.
    """

    adata: Any
    info: dict = field(default_factory=dict)
    label_key: str | None = None
    handled: frozenset = frozenset()
    labels_file: Path | None = None


@dataclass(frozen=True)
class Reader:
    """One format.

    name: the format's name in ``uns['cellwak']['dataset']['format']`` (``csv``, ``fcs``...).
    kind: what its files are called in messages, plural (``FCS files``).
    suffixes: lower-case name endings it accepts (``.csv.gz``); matched longest first.
    read: ``read(path, options) -> Loaded``.
    options: the ReadOptions fields it honours; any other option the user sets is refused.
    description: one line for help texts.
    sniff: ``sniff(path) -> bool``, True when the content (or name) is surely this format; it
        decides between readers sharing a suffix and finds files whose suffix says nothing.
    folders: it reads folders (too).
    """

    name: str
    kind: str
    suffixes: tuple[str, ...]
    read: Callable[[Path, ReadOptions], Loaded]
    options: frozenset = COMMON_OPTIONS
    description: str = ""
    sniff: Callable[[Path], bool] | None = None
    folders: bool = False


@dataclass(frozen=True)
class ReaderSummary:
    """A reader as help texts show it."""

    name: str
    kind: str
    suffixes: tuple[str, ...]
    description: str
    options: tuple[str, ...]  # ReadOptions fields it honours
    flags: tuple[str, ...]  # the command-line flags of those options


_READERS: dict[str, Reader] = {}


def register_reader(name: str, *, kind: str, suffixes=(), read, options=COMMON_OPTIONS,
                    description: str = "", sniff=None, folders: bool = False) -> Reader:
    """Register (or replace) the reader of format ``name``."""
    unknown = set(options) - set(OPTION_FLAGS)
    if unknown:
        raise ValueError(f"reader {name!r} declares unknown options {sorted(unknown)}")
    reader = Reader(name=name, kind=kind, suffixes=tuple(s.lower() for s in suffixes), read=read,
                    options=frozenset(options), description=description, sniff=sniff, folders=folders)
    _READERS[name] = reader
    return reader


def get_reader(name: str) -> Reader:
    return _READERS[name]


def readers() -> list[ReaderSummary]:
    """Every registered format: name, suffixes, description and the options it honours."""
    out = []
    for r in _READERS.values():
        opts = tuple(o for o in OPTION_FLAGS if o in r.options)
        out.append(ReaderSummary(r.name, r.kind, r.suffixes, r.description, opts,
                                 tuple(OPTION_FLAGS[o][0] for o in opts)))
    return out


def known_suffixes() -> list[str]:
    """Every suffix some reader accepts, longest first (``.csv.gz`` before ``.gz``-less ones)."""
    return sorted({s for r in _READERS.values() for s in r.suffixes}, key=lambda s: (-len(s), s))


def default_name(path) -> str:
    """The dataset name a file gets when the user gives none: its name without reader suffixes."""
    name = Path(str(path).rstrip("/\\") or ".").name
    suffixes = known_suffixes()
    stripped = True
    while stripped:
        stripped = False
        for s in suffixes:
            if name.lower().endswith(s) and len(name) > len(s):
                name, stripped = name[: -len(s)], True
                break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-") or "dataset"


def supported_text() -> str:
    """``CSV/TSV tables (.csv .tsv), ..., or folders of ...`` for error messages."""
    parts = []
    for r in _READERS.values():
        plain = [s for s in r.suffixes if not s.endswith(".gz")]
        shown = " ".join(plain) + (", optionally .gz" if len(plain) < len(r.suffixes) else "")
        parts.append(f"{r.kind} ({shown})" if shown else r.kind)
    return ", ".join(parts[:-1]) + f", or {parts[-1]}" if len(parts) > 1 else "".join(parts)


def _sniffs(reader: Reader, path: Path) -> bool:
    if reader.sniff is None:
        return False
    try:
        return bool(reader.sniff(path))
    except Exception:  # noqa: BLE001  a sniff is a guess: failing means "not mine"; the reader says what is wrong
        return False


def find_reader(path: Path) -> Reader:
    """The reader of ``path``: a suffix's reader whose sniff agrees, else any reader whose sniff
    recognises the content, else the suffix's plain reader."""
    folder = path.is_dir()
    if folder:
        candidates = [r for r in _READERS.values() if r.folders]
    else:
        name = path.name.lower()
        matches = [s for s in known_suffixes() if name.endswith(s)]
        candidates = [r for r in _READERS.values() if matches and matches[0] in r.suffixes]
    for r in candidates:
        if _sniffs(r, path):
            return r
    for r in _READERS.values():
        if r not in candidates and (r.folders or not folder) and _sniffs(r, path):
            return r
    plain = [r for r in candidates if r.sniff is None] or candidates
    if plain:
        return plain[0]
    suffix = ".gz" if path.name.lower().endswith(".gz") else path.suffix.lower()
    from .images import IMAGE_SUFFIXES

    hint = " (a single image is not a dataset: point to its folder)" if suffix in IMAGE_SUFFIXES else ""
    raise InputError(f"unsupported file type '{suffix or path.name}'{hint}", f"cellwak reads {supported_text()}")


def refuse_ignored_options(opts: ReadOptions, reader: Reader) -> None:
    """An option the chosen format would ignore is an error, not a silent no-op."""
    given = options_set(opts)
    for name, value in given.items():
        if name not in reader.options:
            purpose = OPTION_FLAGS[name][1]
            raise InputError(f"{flag(name, value)} does not apply to {reader.kind} ({purpose})", "remove it")
    if "labels_column" in given and "labels_file" not in given:
        raise InputError("--labels-column applies only together with --labels (it picks a column of that file)",
                         "add --labels FILE, or remove --labels-column")
