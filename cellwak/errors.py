"""Errors that are the user's to fix.

A :class:`CellwakError` carries one sentence saying what is wrong and, when we know it, how to
fix it. The CLI prints it as a single line on stderr and exits with status 2; anything else that
escapes is a bug and gets a traceback (with ``--debug``).
"""

from __future__ import annotations


class CellwakError(Exception):
    """Bad input or a request that cannot be met; never a bug."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ") if fix else None
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


class InputError(CellwakError):
    """A data file or an argument that cannot be used as given."""


class NotFoundError(CellwakError):
    """A dataset, clustering, run or file that does not exist."""


class ConflictError(CellwakError):
    """A name that is already taken, or a state that forbids the request."""


def short_list(items, limit: int = 5) -> str:
    """``a, b, c (and 7 more)`` for error messages that must stay on one line."""
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    return head if len(items) <= limit else f"{head} (and {len(items) - limit} more)"
