"""Julia through a julia executable (subprocess) or juliacall (in process, Julia >= 1.10).

Where no recent Julia can be installed, juliacall fails on import (it tries to download Julia);
that is detected in a child process with a time limit and reported, never raised.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from ._subprocess import last_line, run_quiet

ENV_JULIA = "CELLWAK_JULIA"


def local_julia_candidates() -> list[Path]:
    """Where a locally unpacked Julia may live (see the Makefile's ``julia`` target)."""
    import platformdirs

    here = Path(__file__).resolve().parents[2]
    return [here / ".cache" / "julia" / "usr" / "bin" / "julia",
            Path(platformdirs.user_cache_dir("cellwak")) / "julia" / "usr" / "bin" / "julia"]


def julia_executable() -> str | None:
    env = os.environ.get(ENV_JULIA)
    if env:
        return env if Path(env).is_file() else None
    found = shutil.which("julia")
    if found:
        return found
    return next((str(p) for p in local_julia_candidates() if p.is_file()), None)


def status(check_juliacall: bool = True) -> dict:
    exe = julia_executable()
    result: dict
    if exe is None:
        result = {"status": "missing",
                  "detail": f"no julia executable (set {ENV_JULIA}, put julia on PATH, or run `make julia`)"}
    else:
        code, out, err = run_quiet([exe, "--startup-file=no", "--version"], timeout=60)
        result = ({"status": "ok", "executable": exe, "version": last_line(out)} if code == 0 else
                  {"status": "error", "executable": exe, "detail": f"julia does not start: {last_line(err)}"})
    if check_juliacall:
        result["juliacall"] = juliacall_status()
    return result


def juliacall_status(timeout: float = 120) -> dict:
    if importlib.util.find_spec("juliacall") is None:
        return {"status": "missing", "detail": "juliacall is not installed; pip install 'cellwak[julia]' (needs Julia >= 1.10)"}
    code, out, err = run_quiet([sys.executable, "-c", "import juliacall; print(juliacall.Main.seval('string(VERSION)'))"],
                               timeout=timeout)
    if code == 0:
        return {"status": "ok", "julia_version": last_line(out)}
    return {"status": "error", "detail": f"juliacall cannot start Julia: {last_line(err) or 'timed out'}"}
