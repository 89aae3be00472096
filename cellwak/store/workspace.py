"""A workspace: ``CELLWAK_HOME`` with its catalog and artifact folders.

Layout::

    catalog.sqlite                      datasets, clusterings, runs
    datasets/<name>/data.h5ad           the dataset (images stored once)
    datasets/<name>/clusterings/*.npz   labels of each recorded clustering

Artifacts are written under a temporary name and renamed into place, and the catalog row is
written last: a row always points to a complete artifact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, sweep_temporaries, temporary_path
from ..errors import ConflictError, InputError, NotFoundError
from ..jsonable import dumps, jsonable
from .catalog import Catalog, WorkspaceError, now
from .locks import folder_lock

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # the whole name (fullmatch: no trailing newline)
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
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InputError(f"{what} name {name!r} is not allowed",
                         "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


class Workspace:
    def __init__(self, home: str | Path | None = None, *, sweep: bool = True):
        """``sweep``: remove what killed commands left when the catalog is first opened (every
        command does; a check that reports them does not)."""
        self.home = Path(home).expanduser() if home is not None else default_home()
        self._sweep = sweep
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
            if not self.home.exists():  # private: the data of unpublished screens
                self.home.mkdir(parents=True)
                os.chmod(self.home, 0o700)
            new = not self.catalog_path.exists()
            self._catalog = Catalog(self.catalog_path)
            if new:
                os.chmod(self.catalog_path, 0o600)
            if self._sweep:
                self.sweep_stale()
        return self._catalog

    def sweep_stale(self) -> list[Path]:
        """Remove the temporary files and folders of processes that no longer exist (a command or a
        run killed mid-write), and the label files such a process wrote for clusterings it never
        recorded; returns what was removed."""
        removed = []
        for folder in (self.home / "datasets", *(self.home / "datasets").glob("*"),
                       *(self.home / "datasets").glob("*/clusterings"),
                       *(self.home / "runs").glob("*"), *(self.home / "runs").glob("*/checkpoints")):
            if folder.is_dir():
                removed += sweep_temporaries(folder)
        return removed + self._sweep_unrecorded_labels()

    def _sweep_unrecorded_labels(self) -> list[Path]:
        import psutil

        written = [(p, int(m.group(1))) for p in (self.home / "datasets").glob("*/clusterings/*.npz")
                   if (m := re.search(r"-p(\d+)\.npz$", p.name))]
        dead = [p for p, pid in written if not psutil.pid_exists(pid)]
        if not dead:
            return []
        recorded = {r["artifact"] for r in self._catalog.select("clusterings")}
        orphans = [p for p in dead if str(p.relative_to(self.home)) not in recorded]
        for p in orphans:
            p.unlink(missing_ok=True)
        return orphans

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
        from ..io.writers import write_h5ad

        validate_name(name)
        taken = ConflictError(f"a dataset named {name!r} already exists",
                              f"choose another --name, or remove it first with `cellwak data rm {name}`")
        if self._readable() and self.catalog.get("datasets", "name", name) is not None:
            raise taken
        self.catalog  # creates a new workspace privately, and sweeps what killed commands left
        root = self.home / "datasets"
        root.mkdir(exist_ok=True)
        final = self.dataset_dir(name)
        tmp = temporary_path(final)
        tmp.mkdir()
        try:
            write_h5ad(adata, tmp / "data.h5ad", images_once=True)
            with folder_lock(root):  # two `data add` of one name: exactly one wins, the other gets exit 2
                if self.catalog.get("datasets", "name", name) is not None:
                    raise taken
                if final.exists():  # a folder with no catalog row was left by a crash: not a dataset
                    shutil.rmtree(final)
                os.replace(tmp, final)
                self._insert_dataset(name, adata, builtin)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.exists() and self.catalog.get("datasets", "name", name) is None:
                shutil.rmtree(final, ignore_errors=True)
            raise
        return self.catalog.get("datasets", "name", name)

    def _insert_dataset(self, name: str, adata, builtin: bool) -> None:
        from ..io import label_summary

        # plain Python: info read back from an .h5ad holds NumPy arrays (e.g. image_shape)
        info = jsonable({**adata.uns.get("cellwak", {}).get("dataset", {}), "summary": label_summary(adata)})
        self.catalog.insert("datasets", {
            "name": name, "format": info.get("format", "h5ad"), "source": info.get("source"),
            "n_obs": int(adata.n_obs), "n_vars": int(adata.n_vars),
            "label_key": info.get("label_key"), "batch_key": info.get("batch_key"),
            "image_shape": info.get("image_shape"), "builtin": int(builtin),
            "artifact": str(Path("datasets") / name / "data.h5ad"), "created": now(), "info": info,
        })

    def load(self, name: str):
        """The dataset as AnnData (an image dataset's X is a view of ``obsm['images']``), with the
        labels of its recorded clusterings (the catalog is the record: a command killed after
        recording a clustering but before saving the dataset loses no labels)."""
        import anndata as ad

        row = self.dataset(name)
        path = self.home / row["artifact"]
        try:
            adata = ad.read_h5ad(path)
        except Exception as exc:  # missing, truncated or overwritten by something else
            raise WorkspaceError(f"the file of dataset {name!r} ({path}) is missing or damaged "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''})",
                                 f"remove it with `cellwak data rm {name}` and add it again, or run "
                                 "`cellwak doctor --workspace --repair`") from None
        if adata.n_obs != row["n_obs"]:
            raise WorkspaceError(f"dataset {name!r} holds {adata.n_obs} cells but the catalog recorded {row['n_obs']}",
                                 f"remove it with `cellwak data rm {name}` and add it again")
        if adata.X is None and "images" in adata.obsm:
            adata.X = adata.obsm["images"].reshape(adata.n_obs, -1)
        self._reconcile(name, adata)
        return adata

    def _recorded(self, name: str) -> dict[str, dict]:
        """The newest clustering row of each obs key of dataset ``name``."""
        latest = {}
        for c in self.clusterings(name):
            latest[c["key"]] = c
        return latest

    def _reconcile(self, name: str, adata) -> None:
        import pandas as pd

        cellwak = adata.uns.get("cellwak", {})
        saved = json.loads(cellwak.get("recorded", "{}")) if isinstance(cellwak.get("recorded"), str) else {}
        latest = self._recorded(name)
        for key, row in latest.items():
            if saved.get(key) != row["id"] or key not in adata.obs:
                if not (self.home / row["artifact"]).is_file():
                    continue  # removed meanwhile, or damaged: `cellwak doctor --workspace` reports it
                labels = self.clustering_labels(row["id"])
                n = int(labels.max()) + 1 if labels.size else 0
                adata.obs[key] = pd.Categorical(labels.astype(str), categories=[str(i) for i in range(n)])
        for key in set(saved) - set(latest):  # its clusterings were removed
            if key in adata.obs:
                del adata.obs[key]

    def save(self, name: str, adata) -> None:
        """Replace the stored dataset atomically (after a step added results to it); call it with
        the dataset's lock held (:meth:`dataset_lock`)."""
        from ..io.writers import write_h5ad

        row = self.dataset(name)
        path = self.home / row["artifact"]
        sweep_temporaries(path.parent)
        adata.uns.setdefault("cellwak", {})["recorded"] = dumps({k: r["id"] for k, r in self._recorded(name).items()})
        with atomic_path(path) as tmp:
            write_h5ad(adata, tmp, images_once=True)

    @contextmanager
    def dataset_lock(self, name: str):
        """An exclusive lock on one dataset's load-modify-save, across processes (taken on the
        dataset's folder, which a save never replaces, so it creates no file)."""
        with folder_lock(self.dataset_dir(self.dataset(name)["name"])):
            yield

    def remove_dataset(self, name: str) -> dict:
        row = self.catalog.get("datasets", "name", name) if self._readable() else None
        if row is None:
            validate_name(name)
            raise NotFoundError(f"no dataset named {name!r}", "see `cellwak data list`")
        folder = self.dataset_dir(name)
        if folder.is_dir():
            with folder_lock(folder):  # a command saving this dataset finishes first
                self.catalog.delete("datasets", "name", name)  # clusterings cascade
                shutil.rmtree(folder, ignore_errors=True)
        else:
            self.catalog.delete("datasets", "name", name)
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
                name = f"{record['key']}-{uuid.uuid4().hex[:12]}-p{os.getpid()}.npz"  # the writer, for the sweep
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
        except sqlite3.IntegrityError:  # the dataset was removed meanwhile
            for path in written:
                path.unlink(missing_ok=True)
            raise ConflictError(f"dataset {dataset!r} was removed while this command ran; nothing was recorded",
                                "add the dataset again") from None
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
