"""Checking a workspace and repairing what can be repaired safely (`cellwak doctor --workspace
[--repair]`).

Checked: the catalog opens and passes SQLite's integrity check; every dataset row's file exists,
opens and holds the recorded number of cells; every clustering row's labels exist and fit their
dataset; no dataset folder, label file or run folder without its row; no temporary file of a
process that is gone.

Repaired (``repair=True``): temporaries and orphans are removed; rows whose files are missing or
damaged are removed (their data is gone already; the row only misleads); a damaged catalog is moved aside (``catalog.sqlite.damaged-<time>``) and a new
one is built from the dataset folders, with every clustering's labels registered again as a
``recovered`` clustering. Nothing that holds readable data is deleted.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import psutil

import numpy as np

from ..atomic import TMP_MARK
from ..errors import CellwakError
from .catalog import Catalog


def _problem(kind: str, what: str, detail: str) -> dict:
    return {"kind": kind, "what": what, "detail": detail, "repaired": False}


def _open_catalog(ws, problems: list, repair: bool):
    """The catalog, or None when it is damaged (then moved aside and rebuilt when repairing)."""
    path = ws.catalog_path
    if not path.exists():
        return None
    try:
        catalog = Catalog(path)
        result = catalog._conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            catalog.close()
            raise CellwakError(f"integrity check: {result}")
        return catalog
    except CellwakError as exc:
        problem = _problem("catalog", str(path), str(exc))
        problems.append(problem)
        if repair:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for suffix in ("", "-wal", "-shm"):
                old = Path(f"{path}{suffix}")
                if old.exists():
                    old.rename(Path(f"{path}.damaged-{stamp}{suffix}"))
            ws.close()
            rebuilt = _rebuild(ws)
            problem.update(repaired=True, detail=f"{problem['detail']}; moved aside as {path.name}.damaged-{stamp}, "
                                                 f"rebuilt from {rebuilt['datasets']} dataset folders "
                                                 f"({rebuilt['clusterings']} clusterings recovered)")
            return Catalog(path)
        return None


def _rebuild(ws) -> dict:
    """A new catalog from the dataset folders (datasets and their clusterings' label files)."""
    import anndata as ad

    counts = {"datasets": 0, "clusterings": 0}
    for folder in sorted((ws.home / "datasets").glob("*")):
        data = folder / "data.h5ad"
        if TMP_MARK in folder.name or not data.is_file():
            continue
        try:
            adata = ad.read_h5ad(data, backed="r")
            info = adata.uns.get("cellwak", {}).get("dataset", {})
            ws._insert_dataset(folder.name, adata, builtin=info.get("format") == "builtin")
            n_obs = adata.n_obs
            adata.file.close()
        except Exception:  # unreadable: left for the user, reported by the next check
            continue
        counts["datasets"] += 1
        items = []
        for npz in sorted((folder / "clusterings").glob("*.npz")):
            labels = _labels(npz)
            if labels is None or len(labels) != n_obs:
                continue
            sizes = np.bincount(labels).tolist()
            items.append((labels, {"method": "recovered", "key": npz.stem.rsplit("-", 1)[0],
                                   "params": {"recovered_from": npz.name}, "n_clusters": len(sizes), "sizes": sizes}))
        if items:
            for npz in sorted((folder / "clusterings").glob("*.npz")):
                npz.unlink()  # add_clusterings writes them again under new names
            counts["clusterings"] += len(ws.add_clusterings(folder.name, items))
    return counts


def _labels(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            labels = np.asarray(z["labels"])
        return labels.astype(np.int64) if labels.ndim == 1 and labels.size and labels.min() >= 0 else None
    except Exception:
        return None


def _dataset_cells(path: Path) -> int | None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            obs = f["obs"]
            index = obs.attrs.get("_index", "_index")
            return int(obs[index].shape[0])
    except Exception:
        return None


def check(ws, *, repair: bool = False) -> dict:
    """The report of `cellwak doctor --workspace`: problems found (and repaired)."""
    problems: list[dict] = []
    home = ws.home
    if not home.exists():
        return {"home": str(home), "exists": False, "ok": True, "problems": [], "checked": {}}
    catalog = _open_catalog(ws, problems, repair)
    checked = {"datasets": 0, "clusterings": 0, "runs": 0}
    datasets, clusterings, runs = [], [], []
    if catalog is not None:
        datasets = catalog.select("datasets", order="name")
        clusterings = catalog.select("clusterings", order="id")
        runs = [r for r in catalog.select("runs", order="id")]
    for row in datasets:
        checked["datasets"] += 1
        n = _dataset_cells(home / row["artifact"])
        if n != row["n_obs"]:
            detail = "file missing or unreadable" if n is None else f"file holds {n} cells, the row says {row['n_obs']}"
            problem = _problem("dataset", row["name"], detail)
            if repair:
                with catalog.transaction() as conn:
                    conn.execute("DELETE FROM datasets WHERE name = ?", (row["name"],))
                problem["repaired"], problem["detail"] = True, f"{detail}; row removed (add the data again)"
            problems.append(problem)
    known = {r["name"]: r for r in datasets}
    for row in clusterings:
        checked["clusterings"] += 1
        labels = _labels(home / row["artifact"])
        size = known.get(row["dataset"], {}).get("n_obs")
        if labels is None or (size is not None and len(labels) != size):
            problem = _problem("clustering", f"#{row['id']} of {row['dataset']}", "labels missing or damaged")
            if repair:
                with catalog.transaction() as conn:
                    conn.execute("DELETE FROM clusterings WHERE id = ?", (row["id"],))
                problem["repaired"], problem["detail"] = True, "labels missing or damaged; row removed"
            problems.append(problem)
    _orphans(ws, catalog, problems, repair)
    if catalog is not None:
        checked["runs"] = len(runs)
        catalog.close()
    ws.close()
    return {"home": str(home), "exists": True, "checked": checked, "problems": problems,
            "ok": all(p["repaired"] for p in problems)}


def _orphans(ws, catalog, problems: list, repair: bool) -> None:
    home = ws.home
    names = {r["name"] for r in catalog.select("datasets")} if catalog is not None else None
    artifacts = {r["artifact"] for r in catalog.select("clusterings")} if catalog is not None else set()
    run_ids = {str(r["id"]) for r in catalog.select("runs")} if catalog is not None else None
    for folder in sorted((home / "datasets").glob("*")) if (home / "datasets").is_dir() else []:
        if TMP_MARK in folder.name:
            continue
        if names is not None and folder.name not in names:
            _orphan(problems, folder, "dataset folder without a catalog row", repair)
            continue
        for npz in sorted((folder / "clusterings").glob("*.npz")):
            if catalog is None or str(npz.relative_to(home)) in artifacts:
                continue
            writer = re.search(r"-p(\d+)\.npz$", npz.name)
            if writer and psutil.pid_exists(int(writer.group(1))):
                continue  # being recorded by a live command
            if writer:  # its command was killed before recording it: swept by the next command
                problem = _problem("temporary", str(npz.relative_to(home)),
                                   "labels of a clustering whose command was killed before recording it")
                if repair:
                    npz.unlink(missing_ok=True)
                    problem["repaired"] = True
                problems.append(problem)
            else:
                _orphan(problems, npz, "label file without a clustering row", repair)
    if run_ids is not None:
        for folder in sorted((home / "runs").glob("*")) if (home / "runs").is_dir() else []:
            if folder.name.isdigit() and folder.name not in run_ids:
                _orphan(problems, folder, "run folder without a run row", repair)
    stale = _stale_temporaries(ws)
    for path in stale:
        problem = _problem("temporary", str(path.relative_to(home)), "left by a process that was killed")
        problems.append(problem)
    if repair and stale:
        ws.sweep_stale()
        for p in problems:
            if p["kind"] == "temporary":
                p["repaired"] = not (home / p["what"]).exists()


def _orphan(problems: list, path: Path, detail: str, repair: bool) -> None:
    problem = _problem("orphan", str(path), detail)
    if repair:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        problem["repaired"] = True
    problems.append(problem)


def _stale_temporaries(ws) -> list[Path]:
    import psutil

    from ..atomic import owner_pid

    found = []
    for base in (ws.home / "datasets", ws.home / "runs"):
        if base.is_dir():
            for p in base.rglob(f".*{TMP_MARK}*"):
                pid = owner_pid(p.name)
                if pid is not None and not psutil.pid_exists(pid):
                    found.append(p)
    return sorted(found)


__all__ = ["check"]
