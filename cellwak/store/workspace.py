"""A workspace: ``CELLWAK_HOME`` with its catalog and artifact folders.

Layout::

    catalog.sqlite                      datasets, clusterings, runs
    datasets/<name>/data.h5ad           the dataset (images stored once)
    datasets/<name>/clusterings/*.npz   labels of each recorded clustering

Artifacts are written under a temporary name and renamed into place, and the catalog row is
written last: a row always points to a complete artifact.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, sweep_temporaries, temporary_path
from ..errors import ConflictError, InputError, NotFoundError
from ..jsonable import jsonable
from .catalog import Catalog, now

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENV_HOME = "CELLWAK_HOME"


def default_home() -> Path:
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("cellwak", appauthor=False))


def validate_name(name: str, what: str = "dataset") -> str:
    if not name:
        raise InputError(f"the {what} name is empty", "give a name such as 'pbmc' with --name")
    if "/" in name or "\\" in name or os.sep in name:
        raise InputError(f"{what} name {name!r} contains a path separator",
                         "use letters, digits, '.', '_' and '-' only")
    if not NAME.match(name):
        raise InputError(f"{what} name {name!r} is not allowed",
                         "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


class Workspace:
    def __init__(self, home: str | Path | None = None):
        self.home = Path(home).expanduser() if home is not None else default_home()
        if self.home.exists() and not self.home.is_dir():
            raise InputError(f"workspace {self.home} is a file, not a folder",
                             f"point --home or {ENV_HOME} to a folder")
        self._catalog: Catalog | None = None

    # -- catalog ---------------------------------------------------------------------------
    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite"

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self.home.mkdir(parents=True, exist_ok=True)
            self._catalog = Catalog(self.catalog_path)
        return self._catalog

    def _readable(self) -> bool:
        """Read-only commands on a workspace that does not exist yet see it as empty."""
        return self._catalog is not None or self.catalog_path.exists()

    def close(self):
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    # -- datasets --------------------------------------------------------------------------
    def dataset_dir(self, name: str) -> Path:
        return self.home / "datasets" / name

    def datasets(self) -> list[dict]:
        return self.catalog.select("datasets", order="name") if self._readable() else []

    def dataset(self, name: str, *, builtin_ok: bool = True) -> dict:
        """The catalog row of ``name``; a built-in dataset is registered on first use."""
        row = self.catalog.get("datasets", "name", name) if self._readable() else None
        if row is not None:
            return row
        from ..datasets import BUILTIN, load_builtin

        if builtin_ok and name in BUILTIN:
            return self.add_dataset(name, load_builtin(name), builtin=True)
        validate_name(name)
        raise NotFoundError(f"no dataset named {name!r}",
                            "see `cellwak data list`, or add one with `cellwak data add PATH --name NAME`")

    def add_dataset(self, name: str, adata, *, builtin: bool = False) -> dict:
        from ..io import label_summary
        from ..io.writers import write_h5ad

        validate_name(name)
        if self._readable() and self.catalog.get("datasets", "name", name) is not None:
            raise ConflictError(f"a dataset named {name!r} already exists",
                                f"choose another --name, or remove it first with `cellwak data rm {name}`")
        root = self.home / "datasets"
        root.mkdir(parents=True, exist_ok=True)
        sweep_temporaries(root)
        final = self.dataset_dir(name)
        tmp = temporary_path(final)
        tmp.mkdir()
        try:
            write_h5ad(adata, tmp / "data.h5ad", images_once=True)
            if final.exists():  # a folder with no catalog row was left by a crash: not a dataset
                shutil.rmtree(final)
            os.replace(tmp, final)
            # plain Python: info read back from an .h5ad holds NumPy arrays (e.g. image_shape)
            info = jsonable({**adata.uns.get("cellwak", {}).get("dataset", {}), "summary": label_summary(adata)})
            row = {
                "name": name, "format": info.get("format", "h5ad"), "source": info.get("source"),
                "n_obs": int(adata.n_obs), "n_vars": int(adata.n_vars),
                "label_key": info.get("label_key"), "batch_key": info.get("batch_key"),
                "image_shape": info.get("image_shape"), "builtin": int(builtin),
                "artifact": str(Path("datasets") / name / "data.h5ad"), "created": now(),
                "info": info,
            }
            self.catalog.insert("datasets", row)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.exists() and self.catalog.get("datasets", "name", name) is None:
                shutil.rmtree(final, ignore_errors=True)
            raise
        return self.catalog.get("datasets", "name", name)

    def load(self, name: str):
        """The dataset as AnnData (an image dataset's X is a view of ``obsm['images']``)."""
        import anndata as ad

        row = self.dataset(name)
        adata = ad.read_h5ad(self.home / row["artifact"])
        if adata.X is None and "images" in adata.obsm:
            adata.X = adata.obsm["images"].reshape(adata.n_obs, -1)
        return adata

    def save(self, name: str, adata) -> None:
        """Replace the stored dataset atomically (after a step added results to it)."""
        from ..io.writers import write_h5ad

        row = self.dataset(name)
        path = self.home / row["artifact"]
        sweep_temporaries(path.parent)
        with atomic_path(path) as tmp:
            write_h5ad(adata, tmp, images_once=True)

    @contextmanager
    def dataset_lock(self, name: str):
        """An exclusive lock on one dataset's load-modify-save, across processes. The lock is
        taken on the dataset's folder (which a save never replaces), so it creates no file."""
        folder = self.dataset_dir(self.dataset(name)["name"])
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def remove_dataset(self, name: str) -> dict:
        row = self.catalog.get("datasets", "name", name) if self._readable() else None
        if row is None:
            validate_name(name)
            raise NotFoundError(f"no dataset named {name!r}", "see `cellwak data list`")
        self.catalog.delete("datasets", "name", name)  # clusterings cascade
        shutil.rmtree(self.dataset_dir(name), ignore_errors=True)
        return row

    # -- clusterings -----------------------------------------------------------------------
    def add_clustering(self, dataset: str, labels: np.ndarray, record: dict) -> dict:
        """Store a clustering's labels, then its catalog row. ``record`` holds method, key,
        params, n_clusters, sizes, metrics, provenance, seconds."""
        return self.add_clusterings(dataset, [(labels, record)])[0]

    def add_clusterings(self, dataset: str, items) -> list[dict]:
        """Several clusterings (``(labels, record)`` pairs, e.g. every resolution of a sweep): all
        label files first, then all catalog rows in one transaction, so a sweep is recorded
        completely or not at all."""
        folder = self.dataset_dir(dataset) / "clusterings"
        folder.mkdir(parents=True, exist_ok=True)
        sweep_temporaries(folder)
        rows, written = [], []
        try:
            for labels, record in items:
                name = f"{record['key']}-{uuid.uuid4().hex[:12]}.npz"
                with atomic_path(folder / name) as tmp, open(tmp, "wb") as fh:
                    np.savez_compressed(fh, labels=np.asarray(labels))
                written.append(folder / name)
                rows.append({"dataset": dataset, "created": now(),
                             "artifact": str(Path("datasets") / dataset / "clusterings" / name),
                             **{k: jsonable(v) for k, v in record.items()}})
            ids = []
            with self.catalog.transaction() as conn:
                for row in rows:
                    enc = Catalog._encode(row)
                    cols = ", ".join(enc)
                    ids.append(conn.execute(f"INSERT INTO clusterings ({cols}) VALUES ({', '.join('?' * len(enc))})",
                                            list(enc.values())).lastrowid)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return [self.catalog.get("clusterings", "id", i) for i in ids]

    def clustering(self, clustering_id: int) -> dict:
        row = self.catalog.get("clusterings", "id", int(clustering_id)) if self._readable() else None
        if row is None:
            raise NotFoundError(f"no clustering #{clustering_id}", "see `cellwak clusters list`")
        return row

    def clustering_labels(self, clustering_id: int) -> np.ndarray:
        row = self.clustering(clustering_id)
        with np.load(self.home / row["artifact"]) as z:
            return z["labels"]

    def remove_clusterings(self, ids) -> list[dict]:
        """Delete clusterings (catalog rows in one transaction, then their label files)."""
        rows = [self.clustering(i) for i in ids]
        if rows:
            with self.catalog.transaction() as conn:
                conn.executemany("DELETE FROM clusterings WHERE id = ?", [(int(r["id"]),) for r in rows])
            for r in rows:
                (self.home / r["artifact"]).unlink(missing_ok=True)
        return rows

    def clusterings(self, dataset: str | None = None) -> list[dict]:
        if not self._readable():
            return []
        if dataset is None:
            return self.catalog.select("clusterings", order="id")
        return self.catalog.select("clusterings", "dataset = ?", (dataset,), order="id")
