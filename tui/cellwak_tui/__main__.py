"""``python -m cellwak_tui [HOME]``: the dashboard on a workspace (default: cellwak's)."""

import sys

from cellwak import api

from .app import run

target = api.dashboard_target(sys.argv[1] if len(sys.argv) > 1 else None)
run(target.home)
