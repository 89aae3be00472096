"""Global CLI state (``--home``, ``--json``, ``--debug``) and output helpers.

Consoles are created per call so output goes to whatever ``sys.stdout``/``sys.stderr`` are at
that moment (tests capture them).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass


@dataclass
class State:
    home: str | None = None
    json: bool = False
    debug: bool = False


state = State()


def stdout_console():
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def stderr_console():
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def workspace():
    from ..store import Workspace

    return Workspace(state.home)


def emit(data: dict, render=None) -> None:
    """One JSON object on stdout with ``--json``; otherwise ``render(console)`` (or the JSON,
    indented, when a command has no human rendering)."""
    if state.json:
        sys.stdout.write(json.dumps(data, default=_default) + "\n")
        sys.stdout.flush()
    elif render is not None:
        render(stdout_console())
    else:
        sys.stdout.write(json.dumps(data, default=_default, indent=2) + "\n")


def _default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def error_line(message: str, exit_code: int) -> None:
    """The one line a user sees for bad input (and, with --json, an error object on stdout)."""
    text = " ".join(message.split())
    sys.stderr.write(f"cellwak: error: {text}\n")
    sys.stderr.flush()
    if state.json:
        sys.stdout.write(json.dumps({"error": text, "exit_code": exit_code}) + "\n")
        sys.stdout.flush()
