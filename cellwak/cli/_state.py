"""Global CLI state (``--home``, ``--json``, ``--debug``, ``--quiet``) and output helpers.

stdout carries the result only: a rendering for people, or with ``--json`` exactly one strict
JSON object (:func:`cellwak.jsonable.dumps`). Progress and errors go to stderr. Consoles are
created per call so output goes to whatever ``sys.stdout``/``sys.stderr`` are at that moment
(tests capture them).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..jsonable import dumps


@dataclass
class State:
    home: str | None = None
    json: bool = False
    debug: bool = False
    quiet: bool = False


state = State()


def stdout_console():
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def stderr_console():
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def home() -> str | None:
    """The workspace the API operations get (None: the default one)."""
    return state.home


def emit(data, render=None) -> None:
    """One JSON object on stdout with ``--json``; otherwise ``render(console)`` (or the JSON,
    indented, when a command has no human rendering). ``data``: a dict or an API result."""
    payload = data.to_dict() if hasattr(data, "to_dict") else data
    if state.json:
        sys.stdout.write(dumps(payload) + "\n")
        sys.stdout.flush()
    elif render is not None:
        render(stdout_console())
    else:
        sys.stdout.write(dumps(payload, indent=2) + "\n")


def note(text: str) -> None:
    """One line on stderr for a person (nothing with --json or --quiet)."""
    if not state.json and not state.quiet:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def error_line(message: str, exit_code: int) -> None:
    """The one line a user sees for bad input (and, with --json, an error object on stdout)."""
    text = " ".join(message.split())
    sys.stderr.write(f"cellwak: error: {text}\n")
    sys.stderr.flush()
    if state.json:
        sys.stdout.write(dumps({"error": text, "exit_code": exit_code}) + "\n")
        sys.stdout.flush()
