"""Recorders of a run: its catalog row and metrics (streamed in batches by a writer thread that
also beats the heart), and its log file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ..train.recorder import Recorder
from .store import RunStore


class CatalogRecorder(Recorder):
    """Streams a fit into the catalog without slowing it down.

    The loop's thread only appends metric rows to a list; a writer thread (with its own SQLite
    connection) inserts them every ``interval`` seconds in one transaction and updates the
    heartbeat and the position (stage, epoch, step). Checkpoints are recorded at once, after the
    metrics up to them, so everything up to the last recorded checkpoint is in the catalog.
    The writer also sets ``stop`` when the run was cancelled from elsewhere
    (``cancel_requested``) or superseded (its attempt or status changed under it).
    """

    def __init__(self, ws, run_id: int, attempt: int, stop: threading.Event, interval: float = 1.0):
        self.store, self.run_id, self.attempt, self.stop = RunStore(ws), int(run_id), int(attempt), stop
        self.home, self.interval = ws.home, interval
        self._rows: list[tuple] = []
        self._lock = threading.Lock()
        self._position: dict = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._writer, name=f"cellwak-run-{run_id}", daemon=True)
        self._thread.start()

    # -- events from the loop ----------------------------------------------------------------
    def start(self, info):
        from ..provenance import environment

        provenance = {**environment(info["device"]), "world_size": info["world_size"]}
        self.store.update(self.run_id, {"info": info, "threads": info["threads"], "device": info["device"],
                                        "step": info["step"], "provenance": provenance}, attempt=self.attempt)

    def stage(self, index, name, epochs, start_epoch):
        self._position.update(stage=name, epoch=start_epoch)

    def step(self, stage, epoch, step, metrics):
        self._add("step", stage, epoch, step, metrics)

    def epoch(self, stage, epoch, step, metrics):
        self._add("epoch", stage, epoch, step, metrics)

    def checkpoint(self, path, stage, epoch, step):
        self._flush(self.store)
        self.store.update(self.run_id, {"checkpoint": str(path), "stage": stage, "epoch": epoch, "step": step},
                          attempt=self.attempt)

    def close(self) -> None:
        """Stop the writer and store what is left."""
        self._done.set()
        self._thread.join(timeout=30)
        self._flush(self.store)
        if self._position:
            self.store.update(self.run_id, dict(self._position), attempt=self.attempt)

    # -- internals ---------------------------------------------------------------------------
    def _add(self, scope, stage, epoch, step, metrics):
        t = time.time()
        rows = [(self.run_id, scope, stage, epoch, step, name, float(value), t) for name, value in metrics.items()]
        with self._lock:
            self._rows.extend(rows)
            self._position.update(stage=stage, epoch=epoch if scope == "epoch" else epoch - 1, step=step)

    def _flush(self, store: RunStore) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        store.add_metrics(rows)

    def _writer(self) -> None:
        from ..store import Workspace

        ws = Workspace(self.home)
        store = RunStore(ws)
        try:
            while not self._done.wait(self.interval):
                self._flush(store)
                with self._lock:
                    values = {"heartbeat": time.time(), **self._position}
                if not store.update(self.run_id, values, attempt=self.attempt, statuses=("running",)):
                    self.stop.set()  # declared dead or superseded: stop at the next step
                elif store.get(self.run_id, refresh=False)["cancel_requested"]:
                    self.stop.set()
        finally:
            ws.close()


class LogRecorder(Recorder):
    """Human-readable lines in the run's log file (what `cellwak runs logs` shows)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", buffering=1, encoding="utf-8")
        self._epochs: dict[str, int] = {}

    def line(self, text: str) -> None:
        self._fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")

    def start(self, info):
        stages = ", ".join(f"{s['name']} ({s['epochs']} epochs)" for s in info["stages"])
        self._epochs = {s["name"]: s["epochs"] for s in info["stages"]}
        self.line(f"device {info['device']} (amp {info['amp']}), {info['world_size']} process(es), "
                  f"{info['threads']} thread(s); {info['n_train']} training cells, {info['n_test']} held out; "
                  f"batch {info['batch_size']}, {info['steps_per_epoch']} steps per epoch; stages: {stages}")

    def stage(self, index, name, epochs, start_epoch):
        self.line(f"stage {name}: epochs {start_epoch + 1}..{epochs}")

    def epoch(self, stage, epoch, step, metrics):
        shown = "  ".join(f"{k} {v:.6g}" for k, v in metrics.items() if k not in ("seconds", "cells_per_s"))
        self.line(f"{stage} epoch {epoch}/{self._epochs.get(stage, '?')} step {step}: {shown}  "
                  f"({metrics.get('seconds', 0):.2f} s, {metrics.get('cells_per_s', 0):,.0f} cells/s)")

    def checkpoint(self, path, stage, epoch, step):
        self.line(f"checkpoint {Path(path).name} (stage {stage}, epoch {epoch}, step {step})")

    def message(self, text):
        self.line(text)

    def close(self) -> None:
        self._fh.close()
