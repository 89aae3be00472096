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


def devices() -> dict:
    """The devices a training run can use: torch's status (``device``, and ``gpus`` by name when
    CUDA is present), what the dashboard's run form offers."""
    return torch_status()


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


def terminal_graphics() -> dict:
    """What this terminal can draw (:func:`cellwak.terminal.graphics_support`): how the dashboard
    shows crops."""
    from ..terminal import graphics_support

    return graphics_support()


def check_workspace(home=None, *, repair: bool = False) -> dict:
    """`cellwak doctor --workspace [--repair]`: the workspace's integrity (see
    :mod:`cellwak.store.integrity`) and runs whose process died."""
    from ..runs.store import ACTIVE, RunStore
    from ..store import Workspace
    from ..store.integrity import check

    ws = Workspace(home, sweep=repair)  # a check reports leftovers, it does not remove them
    report = check(ws, repair=repair)
    catalog_ok = not any(p["kind"] == "catalog" and not p["repaired"] for p in report["problems"])
    if report["exists"] and ws.catalog_path.exists() and catalog_ok:
        store = RunStore(ws)
        for row in store.list(refresh=False):
            reason = store.dead_reason(row) if row["status"] in ACTIVE else None
            if reason is None:
                continue
            problem = {"kind": "run", "what": f"#{row['id']}", "detail": f"{row['status']} but {reason}", "repaired": False}
            if repair:
                store.refresh(row)
                problem.update(repaired=True, detail=f"{problem['detail']}; marked failed (resume it)")
            report["problems"].append(problem)
        ws.close()
    report["ok"] = all(p["repaired"] for p in report["problems"])
    report["repair"] = repair
    return report


def collect(home=None, *, check_r: bool = True, check_julia: bool = True, workspace: bool = False,
            repair: bool = False) -> dict:
    """What this installation can do (the report of `cellwak doctor`); with ``workspace``, the
    workspace's integrity instead (``repair``: fix what can be fixed safely)."""
    if workspace or repair:
        report = check_workspace(home, repair=repair)
        return {"workspace_check": report, "ok": report["ok"]}
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
        "terminal": terminal_graphics(),
    }
    missing_resources = [k for k, v in resources.items() if v is None]
    if missing_resources:
        report["cellwak"].update(status="error", detail=f"installation lacks {', '.join(missing_resources)}")
    ws = Workspace(home)
    report["workspace"] = {"status": "ok", "home": str(ws.home), "exists": ws.home.exists(),
                           "datasets": len(ws.datasets())}
    report["ok"] = all(report[k]["status"] == "ok" for k in ("cellwak", "python", "torch"))
    return report
