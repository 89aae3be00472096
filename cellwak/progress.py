"""Progress reporting without printing: the core calls a reporter, the faces draw it.

A reporter is any object with ``task(description, total) -> handle`` where the handle has
``advance(n=1)`` and is a context manager. ``NullProgress`` draws nothing.
"""

from __future__ import annotations


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class NullProgress:
    def task(self, description: str, total: int | None = None):
        return _NullTask()


NULL = NullProgress()
