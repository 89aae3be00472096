"""Built-in real data and synthetic generators."""

from .builtin import BUILTIN, load_builtin
from .synthetic import blobs, cell_crops

__all__ = ["BUILTIN", "load_builtin", "blobs", "cell_crops"]
