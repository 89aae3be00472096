"""``cellwak clusters``: the clusterings recorded in the catalog."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._state import emit, workspace

app = typer.Typer(help="List and inspect recorded clusterings.", no_args_is_help=True)


def _summary(c: dict) -> dict:
    p = c.get("params") or {}
    return {"id": c["id"], "dataset": c["dataset"], "method": c["method"], "key": c["key"], "gamma": p.get("gamma"),
            "k": p.get("k"), "n_clusters": c["n_clusters"], "metrics": c.get("metrics") or {},
            "chosen": p.get("chosen"), "created": c["created"]}


@app.command("list")
def list_clusterings(dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="Only this dataset.")] = None):
    """Clusterings recorded in the workspace (newest last)."""
    ws = workspace()
    if dataset is not None:
        ws.dataset(dataset, builtin_ok=False)
    rows = [_summary(c) for c in ws.clusterings(dataset)]

    def render(console):
        from rich.table import Table

        if not rows:
            console.print("no clusterings yet: run `cellwak cluster`")
            return
        table = Table(show_edge=False, pad_edge=False)
        for col in ("id", "dataset", "method", "key", "gamma", "k", "clusters", "ARI", "NMI", "created"):
            table.add_column(col, justify="right" if col in ("id", "gamma", "k", "clusters", "ARI", "NMI") else "left")
        for r in rows:
            m = r["metrics"]
            table.add_row(str(r["id"]), r["dataset"], r["method"] + (" *" if r["chosen"] else ""), r["key"],
                          f"{r['gamma']:.3g}" if r["gamma"] is not None else "-", str(r["k"] or "-"), str(r["n_clusters"]),
                          f"{m['ari']:.3f}" if m.get("ari") is not None else "-",
                          f"{m['nmi']:.3f}" if m.get("nmi") is not None else "-", r["created"])
        console.print(table)
        if any(r["chosen"] for r in rows):
            console.print("* the resolution its sweep chose")

    emit({"clusterings": rows}, render)


@app.command("show")
def show(clustering_id: Annotated[int, typer.Argument(help="Clustering id (see `cellwak clusters list`).")]):
    """Parameters, sizes, metrics and provenance of one clustering."""
    c = workspace().clustering(clustering_id)

    def render(console):
        s = _summary(c)
        console.print(f"[bold]clustering #{c['id']}[/] of {c['dataset']}: {c['n_clusters']} clusters "
                      f"({c['method']}, obs['{c['key']}'], {c['created']})")
        console.print("  sizes: " + ", ".join(f"{i}: {n:,}" for i, n in enumerate(c["sizes"])))
        for k, v in (c.get("params") or {}).items():
            console.print(f"  {k}: {v}")
        if s["metrics"]:
            console.print("  metrics: " + ", ".join(f"{k} {v}" for k, v in s["metrics"].items()))
        prov = c.get("provenance") or {}
        if prov:
            console.print(f"  run: {prov.get('time')}, device {prov.get('device')}, {prov.get('torch_threads')} threads, "
                          f"versions {prov.get('versions')}")

    emit(c, render)
