"""What this installation can do: Python, torch and its device, R, Julia, the dashboard, resources, workspace."""

from __future__ import annotations

import os
import platform
import sys

from .._version import __version__
from ..resources import resource_dir, tui_package


def torch_status() -> dict:
    try:
        import torch
    except ImportError as exc:
        return {"status": "missing", "detail": f"torch is not installed ({exc}); pip install torch==2.13.0"}
    out = {"status": "ok", "version": torch.__version__, "threads": torch.get_num_threads(),
           "cuda": torch.cuda.is_available(), "device": "cuda" if torch.cuda.is_available() else "cpu"}
    if torch.cuda.is_available():
        out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        out["bf16"] = torch.cuda.is_bf16_supported()
    return out


def tui_status() -> dict:
    """The dashboard counts as present only when its application module is installed."""
    import importlib.util

    package = tui_package()
    if package is None:
        return {"status": "missing", "detail": "the cellwak_tui package is not installed"}
    if importlib.util.find_spec("cellwak_tui.app") is None:
        return {"status": "missing", "location": str(package),
                "detail": "the Textual dashboard (`cellwak tui`) is not built yet; use the command line"}
    return {"status": "ok", "location": str(package)}


def collect(home=None, *, check_r: bool = True, check_julia: bool = True) -> dict:
    """What this installation can do (the report of `cellwak doctor`)."""
    from ..backends import julia, r
    from ..store import Workspace

    resources = {"julia": resource_dir("julia"), "r": resource_dir("r")}
    report = {
        "cellwak": {"status": "ok", "version": __version__, "location": os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "resources": {k: (str(v) if v else None) for k, v in resources.items()}},
        "python": {"status": "ok", "version": platform.python_version(), "executable": sys.executable,
                   "platform": platform.platform(), "cpus": os.cpu_count()},
        "torch": torch_status(),
        "r": r.status() if check_r else {"status": "skipped"},
        "julia": julia.status() if check_julia else {"status": "skipped"},
        "tui": tui_status(),
    }
    missing_resources = [k for k, v in resources.items() if v is None]
    if missing_resources:
        report["cellwak"].update(status="error", detail=f"installation lacks {', '.join(missing_resources)}")
    ws = Workspace(home)
    report["workspace"] = {"status": "ok", "home": str(ws.home), "exists": ws.home.exists(),
                           "datasets": len(ws.datasets())}
    report["ok"] = all(report[k]["status"] == "ok" for k in ("cellwak", "python", "torch"))
    return report
