"""``python -m cellwak.backends.r_child REQUEST.pkl``: draw one figure with embedded R in this
fresh process (see :func:`cellwak.backends.r.render`, mode 'child'); print one JSON line:
``{"ok": true}`` or ``{"ok": false, "error": ..., "fix": ...}``."""

from __future__ import annotations

import json
import pickle
import sys


def main(path: str) -> int:
    from .r import RFigureError, _render_here

    with open(path, "rb") as fh:  # written by our own parent process a moment ago
        request = pickle.load(fh)
    try:
        _render_here(request["kind"], request["args"], request["options"])
    except RFigureError as exc:
        print(json.dumps({"ok": False, "error": exc.problem, "fix": exc.fix}))
        return 1
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
