"""Readers and writers: every supported format becomes one validated AnnData."""

from .writers import export
from .options import ReadOptions
from .read import SUPPORTED, detect_format, label_summary, labelled_mask, read

__all__ = ["read", "export", "ReadOptions", "SUPPORTED", "detect_format", "label_summary", "labelled_mask"]
