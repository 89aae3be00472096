"""The ``runs`` and ``run_metrics`` tables of the catalog, and how a dead run is recognised.

Lifecycle::

    queued -> running -> done | failed | cancelled
    failed | cancelled -> queued (resume: attempt + 1) -> running -> ...

Every write a worker makes is conditioned on its ``attempt`` (and on the run still being
active), so a process that was declared dead, or that a resume superseded, can never overwrite
the run's newer state. A queued or running run whose process is gone (pid missing, a zombie, or
another process reusing the pid) or whose heartbeat is older than ``stale_after()`` seconds is
marked failed when it is read, with the reason, and can be resumed from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ..errors import NotFoundError
from ..jsonable import dumps
from ..store.catalog import now

ACTIVE = ("queued", "running")
TERMINAL = ("done", "failed", "cancelled")
RESUMABLE = ("failed", "cancelled")
_JSON = ("params", "provenance", "info", "result")


def stale_after() -> float:
    """Seconds without a heartbeat after which an active run counts as dead."""
    return float(os.environ.get("CELLWAK_RUN_STALE_AFTER", "60"))


def hostname() -> str:
    return socket.gethostname()


def process_identity(pid: int | None = None) -> tuple[int, float]:
    """(pid, its start time): together they name one process even when pids are reused."""
    import psutil

    p = psutil.Process(pid or os.getpid())
    return p.pid, p.create_time()


def _encode(values: dict) -> dict:
    return {k: (dumps(v) if k in _JSON and v is not None else v) for k, v in values.items()}


def _decode(row: dict | None) -> dict | None:
    if row is None:
        return None
    for k in _JSON:
        if isinstance(row.get(k), str):
            row[k] = json.loads(row[k])
    return row


class RunStore:
    """Runs of one workspace. Reading a workspace that does not exist creates nothing."""

    def __init__(self, ws):
        self.ws = ws

    def _exists(self) -> bool:
        return self.ws.catalog_path.exists()

    def run_dir(self, run_id: int) -> Path:
        return self.ws.home / "runs" / str(int(run_id))

    # -- rows ------------------------------------------------------------------------------
    def create(self, values: dict) -> dict:
        values = {"status": "queued", "attempt": 1, "created": now(), "heartbeat": time.time(), **values}
        enc = _encode(values)
        cols = ", ".join(enc)
        with self.ws.catalog.transaction() as conn:
            run_id = conn.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(enc))})",
                                  list(enc.values())).lastrowid
            folder = self.run_dir(run_id)
            conn.execute("UPDATE runs SET log = ? WHERE id = ?", (str(folder / "log.txt"), run_id))
        folder.mkdir(parents=True, exist_ok=True)
        return self.get(run_id, refresh=False)

    def update(self, run_id: int, values: dict, *, attempt: int | None = None, statuses=None) -> bool:
        """Set ``values``; with ``attempt``/``statuses`` only if the row still has them.
        True when the row was updated."""
        enc = _encode(values)
        sql = f"UPDATE runs SET {', '.join(f'{k} = ?' for k in enc)} WHERE id = ?"
        params = [*enc.values(), int(run_id)]
        if attempt is not None:
            sql += " AND attempt = ?"
            params.append(int(attempt))
        if statuses:
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            params.extend(statuses)
        with self.ws.catalog.transaction() as conn:
            return conn.execute(sql, params).rowcount == 1

    def get(self, run_id, *, refresh: bool = True) -> dict:
        try:
            key = int(run_id)
        except (TypeError, ValueError):
            raise NotFoundError(f"no run {run_id!r}", "run ids are numbers; see `cellwak runs list`") from None
        row = _decode(self.ws.catalog.get("runs", "id", key)) if self._exists() else None
        if row is None:
            raise NotFoundError(f"no run #{key}", "see `cellwak runs list`")
        return self.refresh(row) if refresh else row

    def list(self, *, status: str | None = None, refresh: bool = True) -> list[dict]:
        if not self._exists():
            return []
        rows = [_decode(r) for r in self.ws.catalog.select("runs", order="id")]
        if refresh:
            rows = [self.refresh(r) for r in rows]
        return [r for r in rows if status is None or r["status"] == status]

    # -- liveness --------------------------------------------------------------------------
    def dead_reason(self, row: dict) -> str | None:
        """Why an active run's process is dead, or None while it lives."""
        if row["status"] not in ACTIVE:
            return None
        age = time.time() - float(row["heartbeat"] or 0)
        if row["host"] not in (None, hostname()):  # another machine: only the heartbeat tells
            return f"no heartbeat for {age:.0f} s" if age > stale_after() else None
        if row["pid"] is not None:
            import psutil

            try:
                proc = psutil.Process(int(row["pid"]))
                gone = (proc.status() == psutil.STATUS_ZOMBIE
                        or (row["pid_started"] is not None and abs(proc.create_time() - row["pid_started"]) > 1.0))
            except psutil.NoSuchProcess:
                gone = True
            if gone:
                return f"its process (pid {row['pid']}) is gone"
        if age > stale_after():
            return f"no heartbeat for {age:.0f} s"
        return None

    def refresh(self, row: dict) -> dict:
        """Mark an active run whose process is dead as failed (with the reason)."""
        reason = self.dead_reason(row)
        if reason is None:
            return row
        resumable = "resume it from its last checkpoint" if row.get("checkpoint") else "resume it (from the start)"
        error = f"the run stopped without finishing: {reason}; {resumable} with `cellwak runs resume {row['id']}`"
        if self.update(row["id"], {"status": "failed", "error": error, "ended": now()}, attempt=row["attempt"],
                       statuses=ACTIVE):
            return self.get(row["id"], refresh=False)
        return self.get(row["id"])

    # -- metrics ---------------------------------------------------------------------------
    def add_metrics(self, rows: list[tuple]) -> None:
        """Rows of (run, scope, stage, epoch, step, name, value, time), in one transaction."""
        if not rows:
            return
        with self.ws.catalog.transaction() as conn:
            conn.executemany("INSERT INTO run_metrics (run, scope, stage, epoch, step, name, value, time) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def drop_metrics_after(self, run_id: int, step: int) -> None:
        """Forget metrics past a checkpoint (a resumed run records them again)."""
        with self.ws.catalog.transaction() as conn:
            conn.execute("DELETE FROM run_metrics WHERE run = ? AND step > ?", (int(run_id), int(step)))

    def metrics(self, run_id: int, *, scope: str | None = None, name: str | None = None) -> list[dict]:
        if not self._exists():
            return []
        where, params = "run = ?", [int(run_id)]
        if scope:
            where += " AND scope = ?"
            params.append(scope)
        if name:
            where += " AND name = ?"
            params.append(name)
        return self.ws.catalog.select("run_metrics", where, params, order="step, rowid")

    def last_metrics(self, run_id: int, scope: str = "epoch") -> dict:
        """The newest value of each metric (per epoch by default)."""
        if not self._exists():
            return {}
        rows = self.ws.catalog.select(
            "run_metrics", "rowid IN (SELECT MAX(rowid) FROM run_metrics WHERE run = ? AND scope = ? GROUP BY name)",
            (int(run_id), scope), order="name")
        return {m["name"]: m["value"] for m in rows}
