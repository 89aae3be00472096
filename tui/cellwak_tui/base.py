"""What every screen of the dashboard shares: calling a workspace operation of :mod:`cellwak.api`
in a thread worker (the interface never waits on the workspace), and showing what went wrong."""

from __future__ import annotations


from textual.screen import Screen
from textual.widgets import Select
from textual.worker import get_current_worker

from cellwak.errors import CellwakError


def describe(exc: BaseException) -> str:
    """The one line a user sees: a CellwakError's own sentence, anything else named as a bug."""
    if isinstance(exc, CellwakError):
        return str(exc)
    return f"unexpected error (a bug; please report it): {type(exc).__name__}: {exc}"


def chosen(value):
    """A Select's value, or None when nothing is chosen."""
    return None if value is Select.NULL else value


class ApiCalls:
    """Mixin for screens and dialogs: ``call_api(fn, *args, done=..., failed=...)`` runs ``fn`` in
    a thread worker and hands its result (or its one-line error) back on the interface thread.
    Exclusive workers of one group replace each other: only the newest answer is shown."""

    def call_api(self, fn, *args, done=None, failed=None, group: str = "api", exclusive: bool = True,
                 progress=None, process: bool = False, **kwargs):
        """``process``: run ``fn`` in a child process (:mod:`cellwak_tui.process`) for work that
        would hold Python's lock for long; ``progress``: a callback ``(description, done, total,
        seconds)`` for the operation's progress."""
        app = self.app

        def job():
            worker = get_current_worker()
            try:
                if process:
                    from .process import ChildFailed, run_in_child

                    sink = None if progress is None else (lambda *p: _later(app, progress, *p))
                    try:
                        result = run_in_child(fn, args, kwargs, on_progress=sink,
                                              cancelled=lambda: worker.is_cancelled)
                    except ChildFailed as exc:
                        raise (CellwakError(str(exc)) if exc.refused else RuntimeError(str(exc))) from None
                elif progress is not None:
                    result = fn(*args, progress=WorkerProgress(app, progress), **kwargs)
                else:
                    result = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure becomes one visible line
                if not worker.is_cancelled:
                    _later(app, failed or self.show_error, describe(exc))
                return None
            if not worker.is_cancelled and done is not None:
                _later(app, done, result)
            return result

        return self.run_worker(job, thread=True, group=group, exclusive=exclusive, exit_on_error=False,
                               description=getattr(fn, "__name__", "api call"))

    def show_error(self, message: str) -> None:
        self.app.notify(message, title="cellwak", severity="error", timeout=8)


def _later(app, fn, *args) -> None:
    try:
        app.call_from_thread(fn, *args)
    except RuntimeError:  # the app closed while the worker ran
        pass


class ApiScreen(ApiCalls, Screen):
    """A screen of the dashboard: the workspace is the app's ``home``."""

    @property
    def home(self) -> str:
        return self.app.home


def WorkerProgress(app, callback, interval: float = 0.2):  # noqa: N802 - a reporter, named like one
    """A :mod:`cellwak.progress` reporter that sends ``(description, done, total, seconds)`` to
    ``callback`` on the interface thread, at most a few times a second."""
    from .process import ThrottledProgress

    return ThrottledProgress(lambda *p: _later(app, callback, *p), interval)
