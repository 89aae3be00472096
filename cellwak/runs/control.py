"""Submitting, launching, watching, cancelling and resuming runs (the API under ``cellwak runs``).

    from cellwak.runs import TrainRequest, prepare, submit, launch, execute
    prepared = prepare(ws, TrainRequest("ae", "blood", {"latent": 8}, {"epochs": 20}))
    row = submit(ws, prepared)            # status queued
    launch(ws, row["id"])                 # a background process (survives the terminal) ...
    execute(ws, row["id"], prepared=prepared)   # ... or here, in this process

A detached run is ``python -m cellwak.runs.worker --home H ID`` in a new session, its output
appended to ``<home>/runs/<id>/log.txt``; with ``nproc > 1`` it is started through torchrun
(``python -m torch.distributed.run --standalone --nproc_per_node N -m cellwak.runs.worker ...``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ..errors import ConflictError
from ..store.catalog import now
from .store import ACTIVE, RESUMABLE, TERMINAL, RunStore, hostname, process_identity


def submit(ws, prepared) -> dict:
    """Record a checked run (status queued) and return its row; registers a built-in dataset
    on first use."""
    ws.dataset(prepared.request.dataset)
    config = prepared.config
    return RunStore(ws).create({
        "model": prepared.request.model, "dataset": prepared.request.dataset, "params": prepared.params,
        "seed": int(config.seed), "threads": config.threads, "device": prepared.device, "nproc": int(config.nproc),
    })


def worker_command(ws, run_id: int, nproc: int) -> list[str]:
    worker = ["-m", "cellwak.runs.worker", "--home", str(ws.home), str(int(run_id))]
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *worker]
    return [sys.executable, *worker]


def launch(ws, run_id: int, *, detach: bool = True) -> subprocess.Popen:
    """Start the worker of a queued run. ``detach``: in a new session, so it survives the
    terminal (and Ctrl-C in it); otherwise in this terminal's process group."""
    store = RunStore(ws)
    row = store.get(run_id, refresh=False)
    if row["status"] != "queued":
        raise ConflictError(f"run {run_id} is {row['status']}, not queued")
    log = store.run_dir(run_id) / "log.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(worker_command(ws, run_id, int(row["nproc"] or 1)), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=detach, env=env,
                                    close_fds=True)
    except OSError as exc:
        store.update(run_id, {"status": "failed", "error": f"could not start its process: {exc}", "ended": now()},
                     attempt=row["attempt"], statuses=("queued",))
        raise
    try:
        pid, started = process_identity(proc.pid)
    except Exception:  # it already ended: the next read of the row sees that
        pid, started = proc.pid, None
    # the worker may already have claimed the run with its own pid; then this changes nothing
    store.update(run_id, {"pid": pid, "pid_started": started, "host": hostname(), "heartbeat": time.time()},
                 attempt=row["attempt"], statuses=("queued",))
    return proc


def wait(ws, run_id: int, *, on_update=None, interval: float = 0.5, timeout: float | None = None) -> dict:
    """Poll the run until it ends (or ``timeout`` seconds pass); ``on_update(row)`` each time."""
    store = RunStore(ws)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        row = store.get(run_id)
        if on_update is not None:
            on_update(row)
        if row["status"] in TERMINAL or (deadline is not None and time.monotonic() > deadline):
            return row
        time.sleep(interval)


def cancel(ws, run_id: int, *, wait_seconds: float = 60.0) -> dict:
    """Ask an active run to stop: it finishes its current step, writes a checkpoint and ends as
    cancelled. Waits up to ``wait_seconds`` for that; a run whose process is already gone (or
    never started) is marked cancelled at once."""
    store = RunStore(ws)
    row = store.get(run_id)
    if row["status"] not in ACTIVE:
        raise ConflictError(f"run {row['id']} is {row['status']}, not running",
                            f"resume it with `cellwak runs resume {row['id']}`" if row["status"] in RESUMABLE else None)
    store.update(row["id"], {"cancel_requested": 1}, attempt=row["attempt"])
    if row["pid"] and row["host"] in (None, hostname()):
        try:
            os.kill(int(row["pid"]), signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait_seconds
    while True:
        current = store.get(row["id"], refresh=False)
        if current["status"] not in ACTIVE or current["attempt"] != row["attempt"]:
            return store.get(row["id"])
        if store.dead_reason(current) is not None:  # it died before it could record the stop
            store.update(row["id"], {"status": "cancelled", "ended": now(),
                                     "error": f"cancelled; resume with `cellwak runs resume {row['id']}`"},
                         attempt=row["attempt"], statuses=ACTIVE)
            return store.get(row["id"])
        if time.monotonic() > deadline:
            return store.get(row["id"])
        time.sleep(0.1)


def resume(ws, run_id: int) -> dict:
    """Queue a failed or cancelled run again (attempt + 1); it continues from its newest
    checkpoint when launched or executed."""
    store = RunStore(ws)
    row = store.get(run_id)
    if row["status"] == "done":
        raise ConflictError(f"run {row['id']} is done; there is nothing to resume",
                            "start a new run with `cellwak train ...`")
    if row["status"] in ACTIVE:
        raise ConflictError(f"run {row['id']} is still {row['status']} (pid {row['pid']})",
                            f"cancel it first with `cellwak runs cancel {row['id']}`")
    ws.dataset(row["dataset"], builtin_ok=False)  # the dataset must still exist
    ok = store.update(row["id"], {"status": "queued", "attempt": row["attempt"] + 1, "error": None, "ended": None,
                                  "cancel_requested": 0, "pid": None, "pid_started": None, "host": None,
                                  "heartbeat": time.time()},
                      attempt=row["attempt"], statuses=RESUMABLE)
    if not ok:
        raise ConflictError(f"run {row['id']} changed while it was being resumed", "try again")
    return store.get(row["id"], refresh=False)


def show(ws, run_id: int) -> dict:
    """A run's row with its newest per-epoch metrics and liveness facts."""
    store = RunStore(ws)
    row = store.get(run_id)
    out = dict(row)
    out["last_metrics"] = store.last_metrics(row["id"])
    out["heartbeat_age"] = round(time.time() - row["heartbeat"], 1) if row["heartbeat"] else None
    out["folder"] = str(store.run_dir(row["id"]))
    weights = store.run_dir(row["id"]) / "model.pt"
    out["weights"] = str(weights) if weights.exists() else None
    return out


def read_log(ws, run_id: int, *, follow: bool = False, interval: float = 0.3):
    """The run's log as chunks of text; with ``follow``, keep reading until the run ends."""
    store = RunStore(ws)
    row = store.get(run_id)
    path = store.run_dir(row["id"]) / "log.txt"
    offset = 0
    while True:
        active = follow and store.get(row["id"])["status"] in ACTIVE
        if path.exists():
            with open(path, "r", encoding="utf-8", errors="replace") as fh:
                fh.seek(offset)
                chunk = fh.read()
                offset = fh.tell()
            if chunk:
                yield chunk
        if not active:
            return
        time.sleep(interval)
