"""Progress on stderr for the core's reporter protocol (:mod:`cellwak.progress`).

On a terminal: a rich bar per task with elapsed time and the time remaining. Off a terminal
(logs, CI, pipes): plain lines for the steps that take a while: one when a step has run
``PLAIN_AFTER`` seconds, then at most one every ``PLAIN_EVERY`` seconds (percent done and time
left) and one when it ends. Quick steps, and refusals of bad input, print nothing.
Nothing on stdout, ever; ``--quiet`` silences it.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

from ._state import state, stderr_console

PLAIN_AFTER = 2.0   # a task is announced once it has run this long (quick steps and quick refusals stay silent)
PLAIN_EVERY = 10.0  # then a status line at most this often


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _PlainTask:
    def __init__(self, description: str, total: int | None, write):
        self.description, self.total, self.write = description, total, write
        self.done, self.start = 0, time.monotonic()
        self.last = None  # when the last line was written (None: not announced yet)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.tick()

    def tick(self) -> None:
        """Write a status line when one is due (called on progress and by the watchdog)."""
        now = time.monotonic()
        due = (now - self.start >= PLAIN_AFTER) if self.last is None else (now - self.last >= PLAIN_EVERY)
        if due:
            self.last = now
            self.write(f"{self.description}: {self.status(now)}")

    def status(self, now: float) -> str:
        elapsed = now - self.start
        if not self.total:
            return f"running for {_duration(elapsed)}"
        share = min(1.0, self.done / self.total)
        left = f", about {_duration(elapsed * (1 - share) / share)} left" if share > 0 else ""
        return f"{100 * share:.0f}% ({self.done:,}/{self.total:,}) after {_duration(elapsed)}{left}"

    def finish(self) -> None:
        if self.last is not None:  # announced: say that it ended
            self.write(f"{self.description}: done in {_duration(time.monotonic() - self.start)}")


class _RichTask:
    def __init__(self, progress, task_id):
        self.progress, self.task_id = progress, task_id

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task_id, n)


class CliProgress:
    """The reporter the commands hand to the API: rich bars on a terminal, plain lines off it
    (a watchdog thread writes the lines of long steps that report no progress themselves)."""

    def __init__(self, *, terminal: bool | None = None):
        console = stderr_console()
        self.terminal = console.is_terminal if terminal is None else terminal
        self.enabled = not state.quiet
        self._rich = None
        self._open: list[_PlainTask] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog = None
        if self.enabled and self.terminal:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._rich = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=console,
                                  transient=True)

    def __enter__(self):
        if self._rich is not None:
            self._rich.__enter__()
        elif self.enabled:
            self._watchdog = threading.Thread(target=self._watch, name="cellwak-progress", daemon=True)
            self._watchdog.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2)
        if self._rich is not None:
            return self._rich.__exit__(*exc)
        return False

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for task in list(self._open):
                    task.tick()

    def _write(self, text: str) -> None:
        sys.stderr.write(f"cellwak: {text}\n")
        sys.stderr.flush()

    @contextmanager
    def task(self, description: str, total: int | None = None):
        if not self.enabled:
            from ..progress import NULL

            with NULL.task(description, total) as handle:
                yield handle
            return
        if self._rich is not None:
            task_id = self._rich.add_task(description.replace("[", "\\["), total=total)
            try:
                yield _RichTask(self._rich, task_id)
            finally:
                self._rich.update(task_id, visible=False)
            return
        handle = _PlainTask(description, total, self._write)
        with self._lock:
            self._open.append(handle)
        try:
            yield handle
        finally:
            with self._lock:
                self._open.remove(handle)
        handle.finish()
