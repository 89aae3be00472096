"""How far a run is and when it should end: steps done of the planned total, the recent step
rate from the metrics stream, and the time left at that rate (an upper bound when early
stopping is on)."""

from __future__ import annotations

from .store import ACTIVE, RunStore

RATE_WINDOW = 200  # recent steps the rate is measured over


def run_progress(ws, row: dict) -> dict:
    """``{"total_steps", "done_steps", "fraction", "steps_per_second", "eta_seconds"}`` (None
    where not known yet: before the run has planned its stages or recorded two steps)."""
    info = row.get("info") or {}
    spe = info.get("steps_per_epoch")
    stages = info.get("stages") or []
    total = int(spe) * sum(int(s["epochs"]) for s in stages) if spe and stages else None
    done = int(row.get("step") or 0)
    out = {"total_steps": total, "done_steps": done,
           "fraction": round(min(1.0, done / total), 4) if total else None,
           "steps_per_second": None, "eta_seconds": None}
    if row.get("status") == "done":
        out.update(fraction=1.0, eta_seconds=0.0)
        return out
    rows = RunStore(ws).ws.catalog.select(
        "run_metrics", "run = ? AND scope = 'step' AND name = 'train/loss'", (int(row["id"]),),
        order=f"step DESC LIMIT {RATE_WINDOW}")
    if len(rows) >= 2:
        first, last = rows[-1], rows[0]
        seconds = last["time"] - first["time"]
        if seconds > 0 and last["step"] > first["step"]:
            rate = (last["step"] - first["step"]) / seconds
            out["steps_per_second"] = round(rate, 3)
            if total is not None and row.get("status") in ACTIVE:
                out["eta_seconds"] = round(max(0, total - done) / rate, 1)
    return out
