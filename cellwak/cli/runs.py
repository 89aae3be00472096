"""``cellwak runs``: list, show, follow, cancel, resume and export training runs."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..choices import RUN_STATUSES
from ._options import Force
from ._state import emit, home, state
from ._train_progress import TrainProgress
from .train import report

app = typer.Typer(help="Training runs: list, show, logs, cancel, resume, export.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="The run id (see `cellwak runs list`).", show_default=False)]


@app.command("list")
def list_runs(
    status: Annotated[Optional[Literal[RUN_STATUSES]], typer.Option(help="Only runs with this status.",
                                                                    show_default=False)] = None,
):
    """Runs in the workspace, newest last (a run whose process died is marked failed here)."""
    runs = api.list_runs(home(), status)
    emit({"runs": runs}, lambda c: render_list(c, runs))


def render_list(console, runs: list[dict]) -> None:
    from rich.markup import escape
    from rich.table import Table

    if not runs:
        console.print("no runs yet; start one with `cellwak train ae --dataset NAME`")
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("id", "model", "dataset", "status", "stage", "epoch", "step", "test loss", "device", "created"):
        table.add_column(col, justify="right" if col in ("id", "epoch", "step", "test loss") else "left")
    for r in runs:
        loss = f"{r['test_loss']:.4g}" if r["test_loss"] is not None else "-"
        table.add_row(str(r["id"]), r["model"], escape(r["dataset"]), r["status"], escape(r["stage"] or "-"),
                      str(r["epoch"] if r["epoch"] is not None else "-"), str(r["step"] if r["step"] is not None else "-"),
                      loss, f"{r['device']} x{r['nproc']}" if r["nproc"] > 1 else str(r["device"]), r["created"])
    console.print(table)


def _duration(seconds) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min" if seconds >= 3600 else \
        (f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s")


@app.command("show")
def show(run_id: RunId):
    """Everything about a run: status, position, progress and time left, checkpoint, settings, versions."""
    out = api.show_run(home(), run_id)
    emit(out, lambda c: render_show(c, out))


def render_show(console, r: dict) -> None:
    def line(text: str) -> None:
        console.print(text, markup=False)

    line(f"run {r['run_id']}: {r['model']} on {r['dataset']} - {r['status']}"
         + (f" (pid {r['pid']})" if r["status"] in ("queued", "running") else ""))
    if r.get("error"):
        line(f"  {r['error']}")
    info = r.get("info") or {}
    total = {s["name"]: s["epochs"] for s in info.get("stages", [])}
    if r.get("stage"):
        line(f"  position: stage {r['stage']}, epoch {r['epoch']}/{total.get(r['stage'], '?')}, step {r['step']}")
    p = r.get("progress") or {}
    if p.get("total_steps"):
        eta = ""
        if p.get("eta_seconds") is not None and r["status"] in ("queued", "running"):
            eta = f", about {_duration(p['eta_seconds'])} left at {p['steps_per_second']:.3g} steps/s"
        line(f"  progress: {p['done_steps']:,} of {p['total_steps']:,} steps ({100 * p['fraction']:.0f}%){eta}")
    line(f"  device {r['device']} x{r['nproc']}, {r['threads'] or '?'} threads, seed {r['seed']}, attempt {r['attempt']}")
    if info:
        line(f"  cells: {info.get('n_train')} train, {info.get('n_test')} held out; batch {info.get('batch_size')}")
    if r.get("last_metrics"):
        line("  last epoch: " + "  ".join(f"{k} {v:.6g}" for k, v in r["last_metrics"].items() if v is not None))
    line(f"  checkpoint: {r.get('checkpoint') or '-'}")
    if r.get("weights"):
        line(f"  weights: {r['weights']}")
    line(f"  log: {r.get('log')}")
    line(f"  created {r['created']}, started {r.get('started') or '-'}, ended {r.get('ended') or '-'}")


@app.command("logs")
def logs(
    run_id: RunId,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")] = False,
):
    """The run's log (per-epoch losses, checkpoints, errors)."""
    log = api.run_log(home(), run_id, follow=follow)
    if state.json:
        emit(log)
        return
    for chunk in log:
        sys.stdout.write(chunk)
        sys.stdout.flush()


@app.command("cancel")
def cancel(
    run_id: RunId,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the run to checkpoint and stop.")] = 60.0,
):
    """Stop a run: it finishes its current step, writes a checkpoint and ends as cancelled."""
    row = api.cancel_run(home(), run_id, wait_seconds=wait)
    emit(row, lambda c: c.print(f"run {row['run_id']} {row['status']}"
                                + (f" at stage {row['stage']}, epoch {row['epoch']}, step {row['step']}" if row["stage"] else "")
                                + ("; still stopping" if row["status"] in ("queued", "running") else ""), markup=False))


@app.command("resume")
def resume(
    run_id: RunId,
    detach: Annotated[bool, typer.Option("--detach", help="Resume in the background; prints the run id.")] = False,
):
    """Continue a failed or cancelled run from its last checkpoint (same settings, same threads)."""
    with TrainProgress() as progress:
        row = api.resume_run(home(), run_id, detach=detach, recorder=progress)
    report(row, detached=detach)


@app.command("export")
def export(
    run_id: RunId,
    csv: Annotated[str, typer.Option("--csv", help="Output .csv file: every recorded metric (run, scope, stage, epoch, "
                                                   "step, name, value, time).", show_default=False)],
    force: Force = False,
):
    """Write a run's metrics stream (every step's loss, every epoch's metrics) as CSV."""
    out = api.export_run_metrics(home(), run_id, csv, force=force)
    emit(out, lambda c: c.print(f"wrote {out['rows']:,} metric rows of run {out['run_id']} to {out['out']}", markup=False))
