"""``cellwak runs``: list, show, follow, cancel and resume training runs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ._state import emit, state, workspace

app = typer.Typer(help="Training runs: list, show, logs, cancel, resume.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="The run id (see `cellwak runs list`).", show_default=False)]


@app.command("list")
def list_runs(
    status: Annotated[str, typer.Option(help="Only runs with this status (queued, running, done, failed, cancelled).")] = "",
):
    """Runs in the workspace, newest last (a run whose process died is marked failed here)."""
    from ..runs import ACTIVE, TERMINAL, RunStore

    if status and status not in ACTIVE + TERMINAL:
        from ..errors import InputError

        raise InputError(f"unknown --status {status!r}", f"choose one of {', '.join(ACTIVE + TERMINAL)}")
    ws = workspace()
    store = RunStore(ws)
    rows = store.list(status=status or None)
    out = {"runs": [{"id": r["id"], "model": r["model"], "dataset": r["dataset"], "status": r["status"],
                     "stage": r["stage"], "epoch": r["epoch"], "step": r["step"], "device": r["device"],
                     "nproc": r["nproc"], "pid": r["pid"], "created": r["created"], "ended": r["ended"],
                     "test_loss": store.last_metrics(r["id"]).get("test/loss"), "error": r["error"]} for r in rows]}
    emit(out, lambda c: _render_list(c, out["runs"]))


def _render_list(console, runs: list[dict]) -> None:
    if not runs:
        console.print("no runs yet; start one with `cellwak train ae --dataset NAME`")
        return
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("id", "model", "dataset", "status", "stage", "epoch", "step", "test loss", "device", "created"):
        table.add_column(col, justify="right" if col in ("id", "epoch", "step", "test loss") else "left")
    for r in runs:
        loss = f"{r['test_loss']:.4g}" if r["test_loss"] is not None else "-"
        table.add_row(str(r["id"]), r["model"], r["dataset"], r["status"], r["stage"] or "-",
                      str(r["epoch"] if r["epoch"] is not None else "-"), str(r["step"] if r["step"] is not None else "-"),
                      loss, f"{r['device']} x{r['nproc']}" if r["nproc"] > 1 else str(r["device"]), r["created"])
    console.print(table)


@app.command("show")
def show(run_id: RunId):
    """Everything about a run: status, pid, position, checkpoint, settings, versions, metrics."""
    from ..runs import show as show_run
    from .train import _public

    out = _public(show_run(workspace(), run_id))
    emit(out, lambda c: _render_show(c, out))


def _render_show(console, r: dict) -> None:
    console.print(f"[bold]run {r['run_id']}[/]: {r['model']} on {r['dataset']} — {r['status']}"
                  + (f" (pid {r['pid']})" if r["status"] in ("queued", "running") else ""))
    if r.get("error"):
        console.print(f"  {r['error']}")
    info = r.get("info") or {}
    total = {s["name"]: s["epochs"] for s in info.get("stages", [])}
    if r.get("stage"):
        console.print(f"  position: stage {r['stage']}, epoch {r['epoch']}/{total.get(r['stage'], '?')}, step {r['step']}")
    console.print(f"  device {r['device']} x{r['nproc']}, {r['threads'] or '?'} threads, seed {r['seed']}, attempt {r['attempt']}")
    if info:
        console.print(f"  cells: {info.get('n_train')} train, {info.get('n_test')} held out; batch {info.get('batch_size')}")
    if r.get("last_metrics"):
        console.print("  last epoch: " + "  ".join(f"{k} {v:.6g}" for k, v in r["last_metrics"].items()))
    console.print(f"  checkpoint: {r.get('checkpoint') or '-'}")
    if r.get("weights"):
        console.print(f"  weights: {r['weights']}")
    console.print(f"  log: {r.get('log')}")
    console.print(f"  created {r['created']}, started {r.get('started') or '-'}, ended {r.get('ended') or '-'}")


@app.command("logs")
def logs(
    run_id: RunId,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")] = False,
):
    """The run's log (per-epoch losses, checkpoints, errors)."""
    from ..runs import read_log

    ws = workspace()
    if state.json:
        text = "".join(read_log(ws, run_id, follow=follow))
        from ..runs import RunStore

        emit({"run_id": int(run_id), "status": RunStore(ws).get(run_id)["status"], "log": text})
        return
    for chunk in read_log(ws, run_id, follow=follow):
        sys.stdout.write(chunk)
        sys.stdout.flush()


@app.command("cancel")
def cancel(
    run_id: RunId,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the run to checkpoint and stop.")] = 60.0,
):
    """Stop a run: it finishes its current step, writes a checkpoint and ends as cancelled."""
    from ..runs import cancel as cancel_run
    from .train import _public

    row = cancel_run(workspace(), run_id, wait_seconds=wait)
    out = _public(row)
    emit(out, lambda c: c.print(f"run {row['id']} {row['status']}"
                                + (f" at stage {row['stage']}, epoch {row['epoch']}, step {row['step']}"
                                   if row["stage"] else "")
                                + ("; still stopping" if row["status"] in ("queued", "running") else "")))


@app.command("resume")
def resume(
    run_id: RunId,
    detach: Annotated[bool, typer.Option("--detach", help="Resume in the background; prints the run id.")] = False,
):
    """Continue a failed or cancelled run from its last checkpoint (same settings, same threads)."""
    from ..runs import execute, launch
    from ..runs import resume as resume_run
    from ..train import stop_on_signals
    from .train import TrainProgress, _detached, _foreground_processes, note, report

    ws = workspace()
    row = resume_run(ws, run_id)
    if detach:
        launch(ws, row["id"])
        _detached(ws, row["id"])
        return
    if (row["nproc"] or 1) > 1:
        row = _foreground_processes(ws, row["id"])
    else:
        note(f"resuming run {row['id']} ({row['model']} on {row['dataset']})"
             + (f" from {row['checkpoint']}" if row["checkpoint"] else " from the start"))
        with TrainProgress() as progress, stop_on_signals() as stop:
            row = execute(ws, row["id"], stop=stop, recorders=[progress])
    report(row)
