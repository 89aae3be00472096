"""Writing datasets out for other tools (scanpy, pandas, R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..errors import ConflictError, InputError


def check_export_target(out, force: bool = False) -> Path:
    """Refuse an unsupported extension, a missing folder or (without ``force``) an existing file."""
    out = Path(out).expanduser()
    if out.suffix.lower() not in (".h5ad", ".csv"):
        raise InputError(f"cannot export to '{out.suffix or out.name}'", "use a file name ending in .h5ad or .csv")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist", "create it first or choose another --out")
    if out.exists() and not force:
        raise ConflictError(f"{out} already exists", "pass --force to overwrite it")
    return out


def export(adata, out, *, force: bool = False) -> Path:
    """Write ``adata`` to ``out`` (.h5ad: everything; .csv: features plus per-cell metadata and
    any cellwak cluster labels). The file appears complete or not at all.
    """
    out = check_export_target(out, force)
    suffix = out.suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".h5ad":
            write_h5ad(adata, tmp)
        else:
            X = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
            frame = pd.DataFrame(X, columns=adata.var_names, index=adata.obs_names)
            frame = pd.concat([adata.obs, frame], axis=1)
            frame.index.name = "cell_id"
            frame.to_csv(tmp)
    return out


def write_h5ad(adata, path: Path, *, images_once: bool = False) -> None:
    """Write .h5ad. With ``images_once`` an image dataset's X (a view of ``obsm['images']``) is
    not stored a second time; :func:`cellwak.store.workspace` restores it on load."""
    if images_once and "images" in adata.obsm:
        X = adata.X
        adata.X = None
        try:
            adata.write_h5ad(path)
        finally:
            adata.X = X
    else:
        adata.write_h5ad(path)
