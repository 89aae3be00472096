"""``cellwak clusters``: the clusterings recorded in the catalog: list, show, rm, prune."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import api
from ._progress import CliProgress
from ._state import emit, home

app = typer.Typer(help="List, inspect and remove recorded clusterings.", no_args_is_help=True)

DatasetFilter = Annotated[Optional[str], typer.Option("--dataset", "-d", help="Only this dataset.", show_default=False)]


@app.command("list")
def list_clusterings(dataset: DatasetFilter = None):
    """Clusterings recorded in the workspace (oldest first); * marks the resolution a sweep chose."""
    out = api.list_clusterings(home(), dataset)
    emit(out, lambda c: render_list(c, out.to_dict()["clusterings"]))


def _method(r: dict) -> str:
    return {"leiden": "cluster", "leiden-sweep": "sweep"}.get(r["method"], r["method"]) + (" *" if r["chosen"] else "")


def render_list(console, rows: list[dict]) -> None:
    """A table that fits 80 columns: long dataset names are cut, the time is shown to the minute."""
    from rich.markup import escape
    from rich.table import Table

    if not rows:
        console.print("no clusterings yet: run `cellwak cluster`")
        return
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
    for col in ("id", "dataset", "method", "gamma", "k", "K", "ARI", "NMI", "created"):
        table.add_column(col, justify="right" if col in ("id", "gamma", "k", "K", "ARI", "NMI") else "left",
                         no_wrap=True, max_width=16 if col == "dataset" else None, overflow="ellipsis")
    for r in rows:
        m = r["metrics"]
        fmt = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        created = (r["created"] or "")[:16].replace("T", " ")
        table.add_row(str(r["id"]), escape(r["dataset"]), _method(r),
                      f"{r['gamma']:.3g}" if r["gamma"] is not None else "-", str(r["k"] or "-"), str(r["n_clusters"]),
                      fmt(m.get("ari")), fmt(m.get("nmi")), created)
    console.print(table)
    console.print("K: clusters; *: chosen by its sweep; details: cellwak clusters show ID")


@app.command("show")
def show(clustering_id: Annotated[int, typer.Argument(help="Clustering id (see `cellwak clusters list`).",
                                                      show_default=False)]):
    """Parameters, sizes, metrics and provenance of one clustering, and what each cluster is: its
    unlabelled cells, its majority label's share among all its cells and among its labelled ones,
    its top 3 markers with their direction (stored by `cellwak markers`, else a t-test now) and
    its cells per batch."""
    with CliProgress() as progress:
        c = api.show_clustering(home(), clustering_id, progress)
    emit(c, lambda console: render_show(console, c))


def _pct(value) -> str:
    """A share in percent; one decimal near 0 and 100 (0.4% of a cluster is not 0%)."""
    if value is None:
        return "-"
    near_edge = 0 < value < 0.01 or 0.99 < value < 1
    return f"{100 * value:.1f}%" if near_edge else f"{100 * value:.0f}%"


def render_show(console, c: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]clustering #{c['id']}[/] of {escape(c['dataset'])}: {c['n_clusters']} clusters "
                  f"({c['method']}, obs column {escape(c['key'])}, {c['created']})")
    for k, v in (c.get("params") or {}).items():
        console.print(f"  {k}: {v}", markup=False)
    if c.get("metrics"):
        console.print("  metrics: " + ", ".join(f"{k} {v}" for k, v in c["metrics"].items()), markup=False)
    prov = c.get("provenance") or {}
    if prov:
        console.print(f"  run: {prov.get('time')}, device {prov.get('device')}, {prov.get('torch_threads')} threads, "
                      f"versions {prov.get('versions')}", markup=False)
    clusters = c.get("clusters")
    if not clusters:
        console.print("  sizes: " + ", ".join(f"{i}: {n:,}" for i, n in enumerate(c["sizes"])))
        if c.get("summary_unavailable"):
            console.print(f"  no per-cluster summary: {c['summary_unavailable']}", markup=False)
        return
    labelled = c.get("label_column") is not None
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("cells", justify="right", no_wrap=True)
    if labelled:
        table.add_column("unlab", justify="right", no_wrap=True)
        table.add_column("majority label", no_wrap=True, max_width=18, overflow="ellipsis")
        table.add_column("all", justify="right", no_wrap=True)
        table.add_column("lab", justify="right", no_wrap=True)
    table.add_column("top markers", overflow="fold")
    for r in clusters:
        cells = [str(r["cluster"]), f"{r['size']:,}"]
        if labelled:
            m = r.get("majority")
            cells += [_pct(r.get("unlabelled_share")), escape(m["label"]) if m else "-",
                      _pct(m["share_of_all"]) if m else "-", _pct(m["share_of_labelled"]) if m else "-"]
        cells.append(escape(r["markers_text"]) or "-")
        table.add_row(*cells)
    console.print(table)
    notes = []
    if labelled:
        unlabeled = " or ".join(["missing", *(c.get("unlabeled_values") or [])])
        notes.append(f"unlab: share of cells whose {c['label_column']!r} is {unlabeled}; all / lab: the majority "
                     "label's share of all the cluster's cells / of its labelled cells")
    src = c.get("markers") or {}
    if src:
        how = "stored by `cellwak markers`" if src["source"] == "stored" else "computed now; see `cellwak markers`"
        notes.append(f"top markers by {src['method']} score: the strongest higher one, then the largest either way; "
                     f"+ higher in the cluster, - lower ({how})")
    for note in notes:
        console.print(note, style="dim", markup=False)
    if c.get("batch_column"):
        console.print(f"cells per {c['batch_column']}:", markup=False)
        for r in clusters:
            parts = ", ".join(f"{b} {n:,}" for b, n in (r.get("batches") or {}).items())
            console.print(f"  {r['cluster']}: {parts}", markup=False)


@app.command("rm")
def remove(ids: Annotated[list[int], typer.Argument(help="Clustering ids to remove.", show_default=False)]):
    """Remove recorded clusterings (catalog rows and stored labels); an obs column that no remaining
    clustering records is removed from its dataset too."""
    out = api.remove_clusterings(home(), ids)
    emit(out, lambda c: render_removed(c, out.to_dict()))


@app.command("prune")
def prune(
    dataset: DatasetFilter = None,
    all_sweeps: Annotated[bool, typer.Option("--all-sweeps", help="Also remove the resolution each sweep chose.")] = False,
):
    """Remove the resolutions of sweeps (and of --gamma auto) that were not chosen; results of
    `cellwak cluster` stay."""
    out = api.prune_clusterings(home(), dataset, keep_chosen=not all_sweeps)
    emit(out, lambda c: render_removed(c, out.to_dict()))


def render_removed(console, out: dict) -> None:
    from rich.markup import escape

    ids = out["removed"]
    console.print(f"removed {len(ids)} clustering{'s' if len(ids) != 1 else ''}" + (f": #{', #'.join(map(str, ids))}" if 0 < len(ids) <= 12 else ""))
    for name, columns in out["dropped_columns"].items():
        console.print(f"  {escape(name)}: dropped {len(columns)} obs column{'s' if len(columns) != 1 else ''} no clustering records")
