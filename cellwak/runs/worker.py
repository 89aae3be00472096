"""The process of a detached run: ``python -m cellwak.runs.worker --home HOME RUN_ID``.

Started by :func:`cellwak.runs.launch` (directly, or once per rank through torchrun) with its
output appended to the run's log. SIGTERM and Ctrl-C ask the loop to stop after the current
step with a checkpoint; the run then ends as cancelled. Exit status: 0 done or cancelled,
1 failed, 2 the run could not start (e.g. it was not queued).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cellwak.runs.worker")
    parser.add_argument("--home", required=True, help="the workspace folder")
    parser.add_argument("run_id", type=int)
    args = parser.parse_args(argv)

    from ..errors import CellwakError
    from ..store import Workspace
    from ..train.signals import stop_on_signals
    from .execute import execute

    ws = Workspace(args.home)
    with stop_on_signals() as stop:
        try:
            row = execute(ws, args.run_id, stop=stop)
        except CellwakError as exc:
            sys.stderr.write(f"cellwak: error: {exc}\n")
            return exc.exit_code
        finally:
            ws.close()
    return 0 if row is None or row["status"] in ("done", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
