"""``cellwak data``: list, add, show, export, remove datasets; simulate batch effects."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.config import SimulateConfig
from ..choices import COMPOSITIONS
from ._options import Force
from ._state import emit, home

app = typer.Typer(help="Manage the datasets of the workspace.", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="Dataset name.", show_default=False)]


@app.command("list")
def list_datasets():
    """List the datasets of the workspace (and built-ins not added yet)."""
    out = api.list_datasets(home())
    emit(out, lambda c: render_list(c, out.to_dict()))


def render_list(console, out: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    rows = out["datasets"]
    table = Table(title=escape(f"datasets in {out['home']}"), title_justify="left")
    for col in ("name", "cells", "features", "format", "labels", "batch", "image"):
        table.add_column(col, justify="right" if col in ("cells", "features") else "left")
    for r in rows:
        labels = f"{r['label_column']} ({len(r['label_counts'])})" if r["label_counts"] else "-"
        batch = f"{r['batch_column']} ({len(r['batch_counts'])})" if r["batch_counts"] else "-"
        image = "x".join(map(str, r["image_shape"])) if r["image_shape"] else "-"
        table.add_row(escape(r["name"]), f"{r['n_obs']:,}", f"{r['n_vars']:,}", r["format"], escape(labels),
                      escape(batch), image)
    console.print(table if rows else escape(f"no datasets in {out['home']} yet"))
    for a in out["builtin_available"]:
        console.print(f"built-in, added on first use: [bold]{a['name']}[/] - {escape(a['description'])}")


@app.command("add")
def add(
    path: Annotated[str, typer.Argument(help="A CSV/TSV/Parquet table, .h5ad, 10x Genomics or plain HDF5 .h5, FCS, "
                                             ".npz/.npy array, MNIST idx file, or a folder of per-cell TIFF/PNG images.",
                                        show_default=False)],
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Name in the workspace (default: the file name "
                                                "without its format suffixes).", show_default=False)] = None,
    label: Annotated[Optional[str], typer.Option("--label", "--label-key", help="Column (or, in a plain HDF5 file, "
                                                 "dataset) holding reference labels; used for metrics only.",
                                                 show_default=False)] = None,
    batch: Annotated[Optional[str], typer.Option(help="Column holding the batch (plate, date, donor...).",
                                                 show_default=False)] = None,
    id_: Annotated[Optional[str], typer.Option("--id", help="Column of unique cell IDs.", show_default=False)] = None,
    labels: Annotated[Optional[str], typer.Option(help="Separate label file: one label per cell in the same order "
                                                       "(text, optional header; or idx).", show_default=False)] = None,
    labels_column: Annotated[Optional[str], typer.Option(help="Column of --labels when that file has several.",
                                                         show_default=False)] = None,
    obs: Annotated[Optional[str], typer.Option(help="Per-cell metadata table to merge into obs (same order, or joined "
                                                    "on --id).", show_default=False)] = None,
    meta: Annotated[Optional[list[str]], typer.Option("--meta", "--exclude", help="Numeric columns (FCS: channels) to keep "
                                                      "as metadata, not features (repeatable or comma-separated).",
                                                      show_default=False)] = None,
    feature: Annotated[Optional[list[str]], typer.Option("--feature", "--features", help="Columns to keep as features "
                                                         "although a rule would not: identifier-like integer columns "
                                                         "of tables (sample, plate, ImageNumber...), scatter, time or "
                                                         "unstained FCS channels (repeatable or comma-separated).",
                                                         show_default=False)] = None,
    unlabeled: Annotated[Optional[list[str]], typer.Option(help="Label value meaning 'no label', e.g. Unlabeled "
                                                                "(repeatable).", show_default=False)] = None,
    arcsinh: Annotated[Optional[float], typer.Option(help="FCS: arcsinh(x / COFACTOR) on fluorescence channels.",
                                                     show_default=False)] = None,
    drop_nonfinite: Annotated[bool, typer.Option("--drop-nonfinite", help="Drop cells with NaN/inf values instead of "
                                                 "refusing the file.")] = False,
    channels_last: Annotated[Optional[bool], typer.Option("--channels-last/--channels-first", help="Image arrays: force "
                                                          "the channel axis (default: inferred).", show_default=False)] = None,
    genome: Annotated[Optional[str], typer.Option(help="10x Genomics .h5: the genome to read (when the file holds several).",
                                                  show_default=False)] = None,
    all_feature_types: Annotated[bool, typer.Option("--all-feature-types", help="10x Genomics .h5: keep every feature "
                                                    "type, not only Gene Expression.")] = False,
):
    """Add a data file to the workspace as a named dataset. Options a format cannot use are
    refused; identifier-like integer columns of tables are kept as metadata (and said so)."""
    from pathlib import Path

    options = api.ReadOptions(label=label, batch=batch, id=id_, labels_file=Path(labels) if labels else None,
                              labels_column=labels_column, obs_file=Path(obs) if obs else None, meta=list(meta or []),
                              features=list(feature or []), unlabeled=list(unlabeled or []), arcsinh=arcsinh,
                              drop_nonfinite=drop_nonfinite, channels_last=channels_last, genome=genome,
                              all_feature_types=all_feature_types)
    out = api.add_dataset(home(), path, name=name, options=options)
    emit(out, lambda c: render_show(c, out.to_dict(), verb="added"))


def render_show(console, s: dict, verb: str = "dataset") -> None:
    from rich.markup import escape

    console.print(f"[bold]{verb} {escape(s['name'])}[/]: {s['n_obs']:,} cells x {s['n_vars']:,} features ({s['format']})")
    if s.get("image_shape"):
        console.print(f"  images: {' x '.join(map(str, s['image_shape']))} (channels x height x width)")
    if s.get("source"):
        console.print(f"  source: {escape(s['source'])}")
    for role in ("label", "batch"):
        counts = s.get(f"{role}_counts")
        if counts:
            parts = ", ".join(f"{k}: {v:,}" for k, v in counts.items())
            console.print(escape(f"  {role} column '{s[f'{role}_column']}' ({len(counts)} values): {parts}"))
    if s.get("unlabeled_values"):
        console.print(escape(f"  not counted as labels: {', '.join(s['unlabeled_values'])}"))
    notes = s.get("notes") or {}
    channels = notes.get("channels") or {}
    if channels:
        console.print(escape(f"  features: {', '.join(channels['features'])}"))
        kept = ", ".join(f"{n} ({r})" for n, r in channels["metadata"].items())
        if kept:
            console.print(escape(f"  kept as per-cell metadata, not features: {kept}; --feature NAME uses one as a feature"))
    for column, reason in (notes.get("kept_as_metadata") or {}).items():
        console.print(escape(f"  kept as metadata, not a feature: {column} ({reason}); --feature {column} keeps it a feature"))
    if notes.get("labels_from"):
        console.print(escape(f"  labels from: {notes['labels_from']}"))
    if notes.get("dropped_nonfinite"):
        console.print(f"  dropped {notes['dropped_nonfinite']:,} cells with NaN/inf values")
    if s.get("representations"):
        console.print(escape(f"  representations: {', '.join(s['representations'])}"))
    if s.get("clusterings"):
        console.print(f"  clusterings: {len(s['clusterings'])} (see `cellwak clusters list --dataset {escape(s['name'])}`)")
    if notes.get("attribution"):
        console.print(f"  data: {escape(notes['attribution'])}")


@app.command("show")
def show(name: Name):
    """Cells, features, label and batch counts, image shape, results stored."""
    out = api.show_dataset(home(), name)
    emit(out, lambda c: render_show(c, out.to_dict()))


@app.command("export")
def export(
    name: Name,
    out: Annotated[str, typer.Option("--out", "-o", help="Output file: .h5ad (everything) or .csv (features + metadata "
                                                         "+ clusters).", show_default=False)],
    force: Force = False,
):
    """Write a dataset out for other tools."""
    result = api.export_dataset(home(), name, out, force=force)
    emit(result, lambda c: c.print(f"wrote {result.out} ({result.bytes / 1e6:.1f} MB)", markup=False))


@app.command("rm")
def remove(name: Name):
    """Remove a dataset, its stored results and its catalog rows."""
    out = api.remove_dataset(home(), name)
    emit(out, lambda c: c.print(f"removed dataset {out.removed}", markup=False))


@app.command("simulate-batches")
def simulate_batches(
    source: Annotated[str, typer.Argument(help="An image dataset of the workspace (or a built-in one: blood).",
                                          show_default=False)],
    into: Annotated[str, typer.Option("--into", help="Name of the new multi-batch dataset.", show_default=False)],
    batches: Annotated[int, typer.Option("--batches", help="Number of batches (at least 2).")] = SimulateConfig.batches,
    seed: Annotated[int, typer.Option(help="Seed of every random draw (same seed, same dataset).")] = SimulateConfig.seed,
    strength: Annotated[float, typer.Option(help="Scale of all shifts (0: none, 1: the documented ranges).")] = SimulateConfig.strength,
    composition: Annotated[Literal[COMPOSITIONS], typer.Option(
        help="dirichlet (each batch its own cell-type mix; needs labels) or uniform.")] = SimulateConfig.composition,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing dataset named --into.")] = SimulateConfig.force,
):
    """Copy an image dataset into several batches with known intensity, blur and noise shifts
    (documented in cellwak.datasets.batch_effects), to test batch-correcting features."""
    config = SimulateConfig(batches=batches, seed=seed, strength=strength, composition=composition, force=force)
    out = api.simulate_batches(home(), source, into, config)

    def render(console):
        parts = ", ".join(f"{k}: {v:,}" for k, v in out.batches.items())
        console.print(f"added {out.name}: {out.n_obs:,} cells from {out.source} in {len(out.batches)} batches ({parts}); "
                      "shifts in uns['cellwak']['batch_effects']", markup=False)

    emit(out, render)
