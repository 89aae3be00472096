"""Dataset operations: list, add, show, export, remove, simulate batches."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConflictError, InputError
from ._common import Result, open_workspace
from .config import SimulateConfig


@dataclass
class DatasetSummary(Result):
    name: str
    n_obs: int
    n_vars: int
    format: str
    source: str | None = None
    image_shape: list | None = None
    builtin: bool = False
    created: str | None = None
    label_column: str | None = None
    label_counts: dict | None = None
    batch_column: str | None = None
    batch_counts: dict | None = None
    unlabeled_values: list | None = None
    notes: dict = field(default_factory=dict)      # what the reader decided for the user (kept as metadata, ...)
    representations: list | None = None            # obsm keys (show only)
    obs_columns: list | None = None                # (show only)
    clusterings: list | None = None                # catalog rows, short (show only)
    n_clusterings: int | None = None               # (list with details, and show)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["cells"], out["features"] = self.n_obs, self.n_vars  # the names of the first contract
        return out


def _summary(row: dict) -> DatasetSummary:
    info = row.get("info") or {}
    summary = info.get("summary") or {}
    s = DatasetSummary(name=row["name"], n_obs=int(row["n_obs"]), n_vars=int(row["n_vars"]), format=row["format"],
                       source=row.get("source"), image_shape=row.get("image_shape"), builtin=bool(row.get("builtin")),
                       created=row.get("created"), unlabeled_values=info.get("unlabeled") or None)
    for role in ("label", "batch"):
        part = summary.get(role)
        setattr(s, f"{role}_column", part["column"] if part else None)
        setattr(s, f"{role}_counts", part["counts"] if part else None)
    s.notes = {k: info[k] for k in ("dropped_nonfinite", "license", "attribution", "kept_as_metadata",
                                    "labels_from", "feature_types_kept", "channels") if k in info}
    return s


@dataclass
class DatasetList(Result):
    home: str
    datasets: list[DatasetSummary]
    builtin_available: list[dict]


def list_datasets(ws=None, *, details: bool = False) -> DatasetList:
    """The workspace's datasets and the built-in ones not added yet; with ``details``, each
    dataset's stored representations and its number of clusterings too (one small read each)."""
    from ..datasets import BUILTIN

    ws = open_workspace(ws)
    catalog = ws.datasets()
    rows = [_summary(r) for r in catalog]
    if details:
        from ..io.partial import obsm_shapes

        counts = {}
        for c in ws.clusterings():
            counts[c["dataset"]] = counts.get(c["dataset"], 0) + 1
        for s, r in zip(rows, catalog):
            try:
                s.representations = sorted(k for k in obsm_shapes(ws.home / r["artifact"]) if k != "images")
            except OSError:  # a damaged file: the list still shows the dataset (doctor says what is wrong)
                s.representations = None
            s.n_clusterings = counts.get(s.name, 0)
    names = {r.name for r in rows}
    available = [{"name": n, "description": s["description"]} for n, s in BUILTIN.items() if n not in names]
    return DatasetList(home=str(ws.home), datasets=rows, builtin_available=available)


def add_dataset(ws, path, *, name: str | None = None, options=None) -> DatasetSummary:
    """Read ``path`` (any supported format; ``options``: :class:`cellwak.io.ReadOptions`) and add it
    as dataset ``name`` (default: the file name without its format suffixes)."""
    from ..io import ReadOptions, default_name, read
    from ..store import validate_name

    ws = open_workspace(ws)
    name = validate_name(name if name is not None else default_name(str(path)))
    if any(r["name"] == name for r in ws.datasets()):
        raise ConflictError(f"a dataset named {name!r} already exists",
                            f"choose another --name, or remove it first with `cellwak data rm {name}`")
    adata = read(path, options or ReadOptions())
    return _summary(ws.add_dataset(name, adata))


def show_dataset(ws, name: str, *, add_builtin: bool = True) -> DatasetSummary:
    """Counts, label and batch distributions, stored representations, obs columns, clusterings.
    ``add_builtin=False``: a built-in dataset that is not in the workspace is not added (the
    dashboard's details of a row that another command just removed must not bring it back)."""
    import h5py

    ws = open_workspace(ws)
    row = ws.dataset(name, builtin_ok=add_builtin)
    s = _summary(row)
    with h5py.File(ws.home / row["artifact"], "r") as f:
        s.representations = sorted(k for k in f.get("obsm", {}).keys() if k != "images")
        s.obs_columns = sorted(k for k in f.get("obs", {}).keys() if not k.startswith("_"))
    s.clusterings = [{"id": c["id"], "key": c["key"], "method": c["method"], "n_clusters": c["n_clusters"],
                      "params": c["params"], "metrics": c["metrics"]} for c in ws.clusterings(name)]
    s.n_clusterings = len(s.clusterings)
    return s


@dataclass
class ExportResult(Result):
    dataset: str
    out: str
    bytes: int


def export_dataset(ws, name: str, out, *, force: bool = False) -> ExportResult:
    """Write dataset ``name`` to ``out`` (.h5ad: everything; .csv: features, metadata, clusters)."""
    from ..io import export
    from ..io.writers import check_export_target

    import os

    target = check_export_target(out, force)  # before loading: fail fast
    ws = open_workspace(ws)
    home = ws.home.resolve()
    if target.resolve() == home or home in target.resolve().parents:
        raise InputError(f"{target} is inside the workspace {home}",
                         "export to a folder outside the workspace; its files belong to cellwak")
    if not os.access(target.parent, os.W_OK):
        raise InputError(f"cannot write to {target.parent} (permission denied)", "choose a folder you can write to")
    adata = ws.load(name)
    try:
        written = export(adata, target, force=force)
    except OSError as exc:  # full disk, a path that vanished, a read-only file system
        raise InputError(f"cannot write {target} ({exc.strerror or exc})", "choose another --out") from None
    return ExportResult(dataset=name, out=str(written), bytes=written.stat().st_size)


@dataclass
class RemoveResult(Result):
    removed: str


def remove_dataset(ws, name: str) -> RemoveResult:
    """Remove a dataset, its stored results and its catalog rows."""
    row = open_workspace(ws).remove_dataset(name)
    return RemoveResult(removed=row["name"])


@dataclass
class SimulateResult(Result):
    name: str
    source: str
    n_obs: int
    batches: dict
    seed: int
    strength: float
    composition: str
    label_column: str | None
    batch_column: str = "batch"

    def to_dict(self) -> dict:
        return {**super().to_dict(), "cells": self.n_obs}


def simulate_batches(ws, source: str, into: str, config: SimulateConfig | None = None) -> SimulateResult:
    """Copy an image dataset into ``config.batches`` batches with known intensity, blur and noise
    shifts (:mod:`cellwak.datasets.batch_effects`) as dataset ``into``."""
    from ..datasets import BUILTIN, load_builtin
    from ..datasets.batch_effects import simulated_dataset
    from ..store import validate_name

    config = config or SimulateConfig()
    config.check()
    ws = open_workspace(ws)
    into = validate_name(into)
    if into == source:
        raise InputError(f"--into {into!r} is the source dataset itself", "choose a new name for the simulated dataset")
    names = {r["name"]: r for r in ws.datasets()}
    if into in BUILTIN and into not in names:
        raise ConflictError(f"{into!r} is the name of a built-in dataset", "choose another --into")
    if into in names and not config.force:
        raise ConflictError(f"a dataset named {into!r} already exists",
                            "choose another --into, or pass --force to replace it")
    # read the source without registering a built-in one: a refused request changes nothing
    if source not in names and source not in BUILTIN:
        ws.dataset(source, builtin_ok=False)  # raises the standard "no dataset" line
    if source in names:
        if not names[source].get("image_shape"):
            raise InputError(f"dataset {source!r} is a table of features, not images",
                             "simulate-batches shifts pixel intensities; give an image dataset such as blood")
        adata = ws.load(source)
    else:
        adata = load_builtin(source)
    try:
        new, params = simulated_dataset(adata, source, config.batches, seed=config.seed, strength=config.strength,
                                        composition=config.composition)
    except ValueError as exc:
        raise InputError(f"cannot simulate batches on {source!r}: {exc}") from None
    if into in names:
        ws.remove_dataset(into)
    row = ws.add_dataset(into, new)
    return SimulateResult(name=row["name"], source=source, n_obs=int(row["n_obs"]),
                          batches={p["batch"]: int(p["cells"]) for p in params}, seed=int(config.seed),
                          strength=float(config.strength), composition=config.composition,
                          label_column=new.uns["cellwak"]["dataset"].get("label_key"))
