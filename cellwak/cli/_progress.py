"""Rich progress bars on stderr for the core's progress reporter protocol."""

from __future__ import annotations

import time
from contextlib import contextmanager

from ._state import state, stderr_console


class RichProgress:
    """Draws a transient bar per task; silent with ``--json`` or when stderr is not a terminal."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = stderr_console()
        self.enabled = not state.json and console.is_terminal
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=True,
                                  disable=not self.enabled)

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    @contextmanager
    def task(self, description: str, total: int | None = None):
        task_id = self._progress.add_task(description, total=total)
        handle = _Handle(self._progress, task_id)
        try:
            yield handle
        finally:
            self._progress.update(task_id, visible=False)
            handle.seconds = time.perf_counter() - handle.start


class _Handle:
    def __init__(self, progress, task_id):
        self.progress, self.task_id, self.start, self.seconds = progress, task_id, time.perf_counter(), 0.0

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task_id, n)
