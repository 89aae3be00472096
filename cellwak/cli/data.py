"""``cellwak data``: list, add, show, export, remove datasets; simulate batch effects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._state import emit, workspace

app = typer.Typer(help="Manage the datasets of the workspace.", no_args_is_help=True)


def _default_name(path: str) -> str:
    stem = Path(path.rstrip("/")).name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".parquet", ".h5ad", ".fcs", ".npz", ".npy"):
        stem = stem.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-") or "dataset"


def _summary(row: dict) -> dict:
    info = row.get("info") or {}
    out = {"name": row["name"], "cells": row["n_obs"], "features": row["n_vars"], "format": row["format"],
           "source": row.get("source"), "image_shape": row.get("image_shape"), "builtin": bool(row.get("builtin")),
           "created": row.get("created")}
    for role in ("label", "batch"):
        part = (info.get("summary") or {}).get(role)
        out[f"{role}_column"] = part["column"] if part else None
        out[f"{role}_counts"] = part["counts"] if part else None
    if info.get("unlabeled"):
        out["unlabeled_values"] = info["unlabeled"]
    for k in ("dropped_nonfinite", "license", "attribution"):
        if k in info:
            out[k] = info[k]
    return out


@app.command("list")
def list_datasets():
    """List the datasets of the workspace (and built-ins not added yet)."""
    from ..datasets import BUILTIN

    ws = workspace()
    rows = [_summary(r) for r in ws.datasets()]
    names = {r["name"] for r in rows}
    available = [{"name": n, "description": s["description"]} for n, s in BUILTIN.items() if n not in names]

    def render(console):
        from rich.table import Table

        table = Table(title=f"datasets in {ws.home}", title_justify="left")
        for col in ("name", "cells", "features", "format", "labels", "batch", "image"):
            table.add_column(col, justify="right" if col in ("cells", "features") else "left")
        for r in rows:
            labels = f"{r['label_column']} ({len(r['label_counts'])})" if r["label_counts"] else "-"
            batch = f"{r['batch_column']} ({len(r['batch_counts'])})" if r["batch_counts"] else "-"
            image = "x".join(map(str, r["image_shape"])) if r["image_shape"] else "-"
            table.add_row(r["name"], f"{r['cells']:,}", f"{r['features']:,}", r["format"], labels, batch, image)
        console.print(table if rows else f"no datasets in {ws.home} yet")
        for a in available:
            console.print(f"built-in, added on first use: [bold]{a['name']}[/] - {a['description']}")

    emit({"home": str(ws.home), "datasets": rows, "builtin_available": available}, render)


@app.command("add")
def add(
    path: Annotated[str, typer.Argument(help="A CSV/TSV/Parquet table, .h5ad, FCS, .npz/.npy array, MNIST idx file, or a folder of per-cell TIFF/PNG images.")],
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Name in the workspace (default: the file name).")] = None,
    label: Annotated[Optional[str], typer.Option(help="Column holding reference labels (kept in obs; used for metrics only).")] = None,
    batch: Annotated[Optional[str], typer.Option(help="Column holding the batch (plate, date, donor...).")] = None,
    id_: Annotated[Optional[str], typer.Option("--id", help="Column of unique cell IDs.")] = None,
    labels: Annotated[Optional[str], typer.Option(help="Separate label file: one label per cell in the same order (text, optional header; or idx).")] = None,
    labels_column: Annotated[Optional[str], typer.Option(help="Column of --labels when that file has several.")] = None,
    obs: Annotated[Optional[str], typer.Option(help="Per-cell metadata table to merge into obs (same order, or joined on --id).")] = None,
    meta: Annotated[Optional[list[str]], typer.Option(help="Numeric column to keep as metadata, not a feature (repeatable).")] = None,
    unlabeled: Annotated[Optional[list[str]], typer.Option(help="Label value meaning 'no label', e.g. Unlabeled (repeatable).")] = None,
    arcsinh: Annotated[Optional[float], typer.Option(help="FCS: arcsinh(x / COFACTOR) on fluorescence channels.")] = None,
    drop_nonfinite: Annotated[bool, typer.Option("--drop-nonfinite", help="Drop cells with NaN/inf values instead of refusing the file.")] = False,
    channels_last: Annotated[Optional[bool], typer.Option("--channels-last/--channels-first", help="Image arrays: force the channel axis (default: inferred).", show_default=False)] = None,
):
    """Add a data file to the workspace as a named dataset."""
    from ..io import ReadOptions, read
    from ..store import validate_name

    ws = workspace()
    name = validate_name(name if name is not None else _default_name(path))
    if any(r["name"] == name for r in ws.datasets()):
        from ..errors import ConflictError

        raise ConflictError(f"a dataset named {name!r} already exists",
                            f"choose another --name, or remove it first with `cellwak data rm {name}`")
    opts = ReadOptions(label=label, batch=batch, id=id_, labels_file=Path(labels) if labels else None,
                       labels_column=labels_column, obs_file=Path(obs) if obs else None, meta=list(meta or []),
                       unlabeled=list(unlabeled or []), arcsinh=arcsinh, drop_nonfinite=drop_nonfinite,
                       channels_last=channels_last)
    adata = read(path, opts)
    row = ws.add_dataset(name, adata)
    summary = _summary(row)
    emit(summary, lambda c: _render_show(c, summary, verb="added"))


def _render_show(console, s: dict, verb: str = "dataset"):
    console.print(f"[bold]{verb} {s['name']}[/]: {s['cells']:,} cells x {s['features']:,} features ({s['format']})")
    if s.get("image_shape"):
        console.print(f"  images: {' x '.join(map(str, s['image_shape']))} (channels x height x width)")
    if s.get("source"):
        console.print(f"  source: {s['source']}")
    for role in ("label", "batch"):
        counts = s.get(f"{role}_counts")
        if counts:
            parts = ", ".join(f"{k}: {v:,}" for k, v in counts.items())
            console.print(f"  {role} column '{s[f'{role}_column']}' ({len(counts)} values): {parts}")
    if s.get("unlabeled_values"):
        console.print(f"  not counted as labels: {', '.join(s['unlabeled_values'])}")
    if s.get("dropped_nonfinite"):
        console.print(f"  dropped {s['dropped_nonfinite']:,} cells with NaN/inf values")
    if s.get("representations"):
        console.print(f"  representations: {', '.join(s['representations'])}")
    if s.get("clusterings"):
        console.print(f"  clusterings: {len(s['clusterings'])} (see `cellwak clusters list --dataset {s['name']}`)")
    if s.get("attribution"):
        console.print(f"  data: {s['attribution']}")


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Dataset name.")]):
    """Cells, features, label and batch counts, image shape, results stored."""
    import h5py

    ws = workspace()
    row = ws.dataset(name)
    s = _summary(row)
    with h5py.File(ws.home / row["artifact"], "r") as f:
        s["representations"] = sorted(k for k in f.get("obsm", {}).keys() if k != "images")
        s["obs_columns"] = sorted(k for k in f.get("obs", {}).keys() if not k.startswith("_"))
    s["clusterings"] = [{"id": c["id"], "key": c["key"], "n_clusters": c["n_clusters"], "params": c["params"],
                         "metrics": c["metrics"]} for c in ws.clusterings(name)]
    emit(s, lambda c: _render_show(c, s))


@app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Output file: .h5ad (everything) or .csv (features + metadata + clusters).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
):
    """Write a dataset out for other tools."""
    from ..io import export as export_file
    from ..io.writers import check_export_target

    target = check_export_target(out, force)  # before loading: fail fast
    ws = workspace()
    written = export_file(ws.load(name), target, force=force)
    emit({"dataset": name, "out": str(written), "bytes": written.stat().st_size},
         lambda c: c.print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)"))


@app.command("rm")
def remove(name: Annotated[str, typer.Argument(help="Dataset name.")]):
    """Remove a dataset, its stored results and its catalog rows."""
    row = workspace().remove_dataset(name)
    emit({"removed": row["name"]}, lambda c: c.print(f"removed dataset {row['name']}"))


@app.command("simulate-batches")
def simulate_batches_command(
    source: Annotated[str, typer.Argument(help="An image dataset of the workspace (or a built-in one: blood).")],
    into: Annotated[str, typer.Option("--into", help="Name of the new multi-batch dataset.")],
    batches: Annotated[int, typer.Option("--batches", help="Number of batches (at least 2).")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of every random draw (same seed, same dataset).")] = 0,
    strength: Annotated[float, typer.Option(help="Scale of all shifts (0: none, 1: the documented ranges).")] = 1.0,
    composition: Annotated[str, typer.Option(
        help="dirichlet (each batch its own cell-type mix; needs labels) or uniform.")] = "dirichlet",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing dataset named --into.")] = False,
):
    """Copy an image dataset into several batches with known intensity, blur and noise shifts
    (documented in cellwak.datasets.batch_effects), to test batch-correcting features."""
    from ..datasets import BUILTIN, load_builtin
    from ..datasets.batch_effects import COMPOSITIONS, simulated_dataset
    from ..errors import ConflictError, InputError
    from ..store import validate_name

    ws = workspace()
    into = validate_name(into)
    if composition not in COMPOSITIONS:
        raise InputError(f"unknown --composition {composition!r}", f"use one of {', '.join(COMPOSITIONS)}")
    if batches < 2:
        raise InputError(f"--batches must be at least 2, got {batches}", "pass --batches 2 or more")
    if into == source:
        raise InputError(f"--into {into!r} is the source dataset itself", "choose a new name for the simulated dataset")
    names = {r["name"]: r for r in ws.datasets()}
    if into in BUILTIN and into not in names:
        raise ConflictError(f"{into!r} is the name of a built-in dataset", "choose another --into")
    if into in names and not force:
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
        new, params = simulated_dataset(adata, source, batches, seed=seed, strength=strength, composition=composition)
    except ValueError as exc:
        raise InputError(f"cannot simulate batches on {source!r}: {exc}") from None
    label_key = new.uns["cellwak"]["dataset"].get("label_key")

    if into in names:
        ws.remove_dataset(into)
    row = ws.add_dataset(into, new)
    per_batch = {p["batch"]: p["cells"] for p in params}
    out = {"name": row["name"], "source": source, "cells": int(row["n_obs"]), "batches": per_batch,
           "seed": int(seed), "strength": float(strength), "composition": composition,
           "label_column": label_key, "batch_column": "batch"}

    def render(console):
        parts = ", ".join(f"{k}: {v:,}" for k, v in per_batch.items())
        console.print(f"[bold]added {out['name']}[/]: {out['cells']:,} cells from {source} in {len(per_batch)} "
                      f"batches ({parts}); shifts in uns['cellwak']['batch_effects']")

    emit(out, render)
