"""``cellwak tui``: the Textual dashboard on the workspace."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import api
from ..errors import InputError
from ._state import emit, home, state


def tui(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Open the Clusters screen on this dataset "
                                                                           "(a built-in one is added on first use).",
                                                   show_default=False)] = None,
):
    """The dashboard: datasets, training runs (live, with loss curves and logs; start, cancel,
    resume) and cluster inspection (re-cluster at a gamma or auto, sweep chart, cluster table with
    markers, crops, enrichment, layout). Keys: 1 2 3 switch screens, ctrl+p the command palette,
    ? help, q quit (training runs keep running).

    It shares the workspace with the command line: runs started here are the runs of
    `cellwak runs`, and the reverse. With --json it prints what it would open and exits.
    """
    if not state.json and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("cellwak tui needs an interactive terminal (stdin and stdout are not one)",
                         "run it in a terminal, or use the cellwak commands (with --json) in scripts")
    target = api.dashboard_target(home(), dataset, query_terminal=not state.json)
    if state.json:
        emit(target, None)
        return
    from cellwak_tui.app import (
        run,  # the dashboard is its own package: loaded only when it opens
    )

    run(target.home, target.dataset, target.graphics.get("protocol"))
