"""Training-run operations: start, list, show (with ETA), logs, cancel, resume, export metrics,
embed a run's outputs, and the models with their default settings."""

from __future__ import annotations

import subprocess

from ..choices import RUN_STATUSES
from ..errors import InputError
from ._common import open_workspace
from .config import TrainSettings

PUBLIC_KEYS = ("id", "model", "dataset", "status", "pid", "stage", "epoch", "step", "checkpoint", "log", "error",
               "seed", "device", "threads", "nproc", "params", "result", "last_metrics", "weights", "created",
               "started", "ended", "attempt", "provenance", "info", "heartbeat_age", "folder", "progress")


def public(row: dict) -> dict:
    """A run row as the faces show it (``run_id`` first)."""
    from ..jsonable import jsonable

    return jsonable({"run_id": row["id"], **{k: row.get(k) for k in PUBLIC_KEYS if k in row}})


def model_defaults(model: str) -> dict:
    """Default settings of a model (no torch import): what `cellwak train MODEL --help` shows."""
    from ..models import model_defaults as defaults

    return defaults(model)


def model_choices(model: str) -> dict:
    """Allowed values of a model's enumerated settings."""
    from ..models.settings import choices

    return choices(model)


def models() -> list[dict]:
    """Every registered model: name, data kind, description, default settings."""
    from ..models import list_models, model_info

    return [{"name": m, "data_kind": model_info(m).data_kind, "description": model_info(m).description,
             "defaults": model_info(m).defaults} for m in list_models()]


def _wait_processes(ws, run_id: int, on_update) -> dict:
    """Several processes (torchrun) in this terminal: follow the catalog until they end."""
    from ..runs import RunFailed, launch, wait

    proc = launch(ws, run_id, detach=False)
    try:
        row = wait(ws, run_id, on_update=on_update)
    except KeyboardInterrupt:  # Ctrl-C reached the workers too: they checkpoint and stop
        row = wait(ws, run_id, timeout=120)
    try:
        proc.wait(timeout=60)  # torchrun exits once its workers have
    except subprocess.TimeoutExpired:
        pass
    if row["status"] == "failed":
        raise RunFailed(f"run {run_id} failed: {row['error']}")
    return row


def _run_here(ws, run_id: int, *, prepared=None, recorder=None, handle_signals: bool = True) -> dict:
    from contextlib import nullcontext

    from ..runs import execute
    from ..train import stop_on_signals

    recorders = [recorder] if recorder is not None else []
    with (stop_on_signals() if handle_signals else nullcontext(None)) as stop:
        return execute(ws, run_id, stop=stop, prepared=prepared, recorders=recorders)


def start_run(ws, model: str, dataset: str, *, model_config: dict | None = None, settings: TrainSettings | None = None,
              rep: str | None = None, detach: bool = False, recorder=None, handle_signals: bool = True) -> dict:
    """Check, record and run a training run of ``model`` on ``dataset``.

    ``detach``: start it in the background (it survives this process) and return at once.
    Otherwise it runs here (``nproc`` > 1: torchrun processes followed through the catalog) and
    returns when it ends; ``recorder`` receives the training events (start/stage/step/epoch/...;
    ``from_row(row)`` for torchrun runs). Bad settings raise before any record is written."""
    from ..runs import TrainRequest, launch, prepare, show, submit

    settings = settings or TrainSettings()
    settings.check()
    ws = open_workspace(ws)
    prepared = prepare(ws, TrainRequest(model, dataset, dict(model_config or {}), settings.train_dict(), rep))
    run = submit(ws, prepared)
    if detach:
        launch(ws, run["id"])
        return public(show(ws, run["id"]))
    if settings.nproc > 1:
        row = _wait_processes(ws, run["id"], getattr(recorder, "from_row", None))
    else:
        row = _run_here(ws, run["id"], prepared=prepared, recorder=recorder, handle_signals=handle_signals)
    return public(row)


def resume_run(ws, run_id, *, detach: bool = False, recorder=None, handle_signals: bool = True) -> dict:
    """Continue a failed or cancelled run from its newest checkpoint (same settings and threads)."""
    from ..runs import launch, resume, show

    ws = open_workspace(ws)
    row = resume(ws, run_id)
    if detach:
        launch(ws, row["id"])
        return public(show(ws, row["id"]))
    if (row["nproc"] or 1) > 1:
        return public(_wait_processes(ws, row["id"], getattr(recorder, "from_row", None)))
    return public(_run_here(ws, row["id"], recorder=recorder, handle_signals=handle_signals))


def list_runs(ws=None, status: str | None = None) -> list[dict]:
    """Every run (newest last) with its last test loss; a run whose process died is marked failed."""
    from ..runs import RunStore

    if status and status not in RUN_STATUSES:
        raise InputError(f"unknown --status {status!r}", f"choose one of {', '.join(RUN_STATUSES)}")
    ws = open_workspace(ws)
    store = RunStore(ws)
    return [{"id": r["id"], "model": r["model"], "dataset": r["dataset"], "status": r["status"], "stage": r["stage"],
             "epoch": r["epoch"], "step": r["step"], "device": r["device"], "nproc": r["nproc"], "pid": r["pid"],
             "created": r["created"], "ended": r["ended"], "test_loss": store.last_metrics(r["id"]).get("test/loss"),
             "error": r["error"]} for r in store.list(status=status or None)]


def show_run(ws, run_id) -> dict:
    """Everything about a run, with its progress and estimated time left."""
    from ..runs import run_progress, show

    ws = open_workspace(ws)
    row = show(ws, run_id)
    row["progress"] = run_progress(ws, row)
    return public(row)


class RunLog:
    """A run's log: iterate for its chunks of text as they come (with ``follow``, until the run
    ends), or ``to_dict()`` for all of it with the run's status."""

    def __init__(self, ws, run_id, follow: bool):
        from ..runs import RunStore, read_log

        self._ws, self.run_id = ws, int(RunStore(ws).get(run_id)["id"])
        self._chunks = read_log(ws, self.run_id, follow=follow)

    def __iter__(self):
        return iter(self._chunks)

    def to_dict(self) -> dict:
        from ..runs import RunStore

        text = "".join(self._chunks)
        return {"run_id": self.run_id, "status": RunStore(self._ws).get(self.run_id)["status"], "log": text}


def run_log(ws, run_id, *, follow: bool = False) -> RunLog:
    """The run's log (see :class:`RunLog`)."""
    return RunLog(open_workspace(ws), run_id, follow)


def cancel_run(ws, run_id, *, wait_seconds: float = 60.0) -> dict:
    """Ask a run to stop: it finishes its step, checkpoints and ends as cancelled."""
    from ..runs import cancel

    if wait_seconds < 0:
        raise InputError(f"--wait must be 0 or more seconds, got {wait_seconds:g}")
    return public(cancel(open_workspace(ws), run_id, wait_seconds=wait_seconds))


def export_run_metrics(ws, run_id, out, *, force: bool = False) -> dict:
    """The run's metrics stream as CSV."""
    from ..runs import export_metrics

    return export_metrics(open_workspace(ws), run_id, out, force=force)


def embed_run(ws, run_id, dataset: str | None = None) -> dict:
    """A done run's outputs written into its own dataset or another with the same features."""
    from ..runs import embed

    ws = open_workspace(ws)
    target = dataset or show_run(ws, run_id)["dataset"]
    with ws.dataset_lock(target):
        return embed(ws, run_id, dataset)
