"""Progress of a training run on stderr: a rich bar per stage on a terminal (epoch, loss, time
left), a plain line per epoch off it; silent with --json or --quiet. A recorder for runs in
this process, or fed with catalog rows (``from_row``) for torchrun runs."""

from __future__ import annotations

import sys
import time

from ._state import state, stderr_console


class TrainProgress:
    def __init__(self):
        console = stderr_console()
        self.enabled = not state.json and not state.quiet
        self.terminal = console.is_terminal
        self._progress = None
        if self.enabled and self.terminal:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TextColumn("left"),
                                      TimeRemainingColumn(), console=console, transient=True)
        self._task = None
        self._name, self._epochs, self._spe = None, 0, 1
        self._losses = ""
        self._start = time.monotonic()

    def __enter__(self):
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            return self._progress.__exit__(*exc)
        return False

    def _line(self, text: str) -> None:
        if self.enabled and self._progress is None:
            sys.stderr.write(f"cellwak: {text}\n")
            sys.stderr.flush()

    # recorder events
    def start(self, info):
        self._spe = max(1, int(info["steps_per_epoch"]))
        self._start = time.monotonic()
        if self.enabled:  # training has started: every setting was accepted
            sys.stderr.write(f"cellwak: training on {info['device']} ({info['n_train']:,} cells, batch "
                             f"{info['batch_size']}); Ctrl-C checkpoints and stops\n")
            sys.stderr.flush()

    def stage(self, index, name, epochs, start_epoch):
        self._name, self._epochs = name, epochs
        self._stage_start, self._stage_first = time.monotonic(), start_epoch
        if self._progress is None:
            self._line(f"stage {name}: epochs {start_epoch + 1}-{epochs}")
            return
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(f"{name} epoch {start_epoch + 1}/{epochs}", total=epochs * self._spe,
                                             completed=start_epoch * self._spe, loss="")

    def step(self, stage, epoch, step, metrics):
        if self._task is not None:
            self._progress.advance(self._task)
            self._progress.update(self._task, loss=f"loss {metrics['train/loss']:.4g}{self._losses}")

    def epoch(self, stage, epoch, step, metrics):
        test = metrics.get("test/loss")
        self._losses = f"  test {test:.4g}" if test is not None else ""
        if self._task is not None:
            self._progress.update(self._task, completed=epoch * self._spe,
                                  description=f"{self._name} epoch {min(epoch + 1, self._epochs)}/{self._epochs}")
            return
        done = epoch - self._stage_first
        elapsed = time.monotonic() - self._stage_start
        left = elapsed / done * (self._epochs - epoch) if done > 0 else 0.0
        loss = metrics.get("train/loss")
        self._line(f"{stage} epoch {epoch}/{self._epochs}" + (f": loss {loss:.4g}" if loss is not None else "")
                   + self._losses + f", about {left:.0f} s left in the stage")

    def checkpoint(self, path, stage, epoch, step):
        pass

    def message(self, text):
        pass

    # catalog rows (torchrun runs)
    def from_row(self, row: dict) -> None:
        info = row.get("info") or {}
        if not info.get("stages") or row.get("stage") is None or self._progress is None:
            return
        epochs = {s["name"]: s["epochs"] for s in info["stages"]}
        total = epochs.get(row["stage"], 1)
        if self._task is None or self._name != row["stage"]:
            if self._task is not None:
                self._progress.update(self._task, visible=False)
            self._name = row["stage"]
            self._task = self._progress.add_task(f"{row['stage']} epochs", total=total, loss="")
        self._progress.update(self._task, completed=row["epoch"] or 0)
