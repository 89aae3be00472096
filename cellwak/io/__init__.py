"""Readers and writers: every supported format becomes one validated AnnData.

Formats are registered readers (see :mod:`cellwak.io.registry`): ``readers()`` lists them for help
texts, ``known_suffixes()`` the file endings they accept, ``default_name(path)`` the dataset name a
file gets when the user gives none.
"""

from .options import OPTION_FLAGS, ReadOptions
from .read import SUPPORTED, detect_format, label_summary, labelled_mask, read
from .registry import Loaded, Reader, ReaderSummary, default_name, known_suffixes, readers, register_reader
from .writers import export

__all__ = [
    "OPTION_FLAGS", "SUPPORTED", "Loaded", "ReadOptions", "Reader", "ReaderSummary", "default_name",
    "detect_format", "export", "known_suffixes", "label_summary", "labelled_mask", "read", "readers",
    "register_reader",
]
