"""cellwak: find phenotypes in unlabelled single-cell data.

    import cellwak as cw
    adata = cw.read("cells.csv", cw.io.ReadOptions(label="cell_type"))
    cw.pp.neighbors(adata)                      # scanpy-shaped tools on an AnnData
    cw.tl.leiden(adata, resolution="auto")
    cw.api.cluster(None, "blood")               # workspace operations (what the CLI runs)

Submodules load on first use so that ``cellwak --version`` stays instant.
"""

from __future__ import annotations

import importlib

from ._version import __version__

_SUBMODULES = {"api", "io", "pp", "tl", "graph", "metrics", "store", "datasets", "provenance", "errors", "train", "runs",
               "models", "pl"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "read":
        from .io import read

        return read
    if name == "Workspace":
        from .store import Workspace

        return Workspace
    raise AttributeError(f"module 'cellwak' has no attribute {name!r}")


__all__ = ["__version__", "read", "Workspace", *sorted(_SUBMODULES)]
