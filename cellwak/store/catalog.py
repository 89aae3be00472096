"""The SQLite catalog of a workspace: datasets, clusterings (and, later, runs).

WAL mode so a dashboard can read while a training process writes. The schema is versioned with
``PRAGMA user_version``; each migration runs once, in order.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import CellwakError
from ..jsonable import dumps


class WorkspaceError(CellwakError):
    """A workspace that cannot be used as it is (damaged, or from a newer cellwak)."""


def damaged(path: Path, detail: str) -> WorkspaceError:
    return WorkspaceError(f"the workspace catalog {path} is damaged ({detail.splitlines()[0][:120]})",
                          "run `cellwak doctor --workspace --repair`, or move the folder aside and add the datasets again")

MIGRATIONS = [
    """
    CREATE TABLE datasets (
        name TEXT PRIMARY KEY,
        format TEXT NOT NULL,
        source TEXT,
        n_obs INTEGER NOT NULL,
        n_vars INTEGER NOT NULL,
        label_key TEXT,
        batch_key TEXT,
        image_shape TEXT,
        builtin INTEGER NOT NULL DEFAULT 0,
        artifact TEXT NOT NULL,
        created TEXT NOT NULL,
        info TEXT
    );
    CREATE TABLE clusterings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset TEXT NOT NULL REFERENCES datasets(name) ON DELETE CASCADE,
        method TEXT NOT NULL,
        key TEXT NOT NULL,
        params TEXT NOT NULL,
        n_clusters INTEGER NOT NULL,
        sizes TEXT NOT NULL,
        metrics TEXT,
        provenance TEXT,
        artifact TEXT NOT NULL,
        seconds REAL,
        created TEXT NOT NULL
    );
    CREATE INDEX clusterings_dataset ON clusterings(dataset);
    """,
    # 2: training runs (cellwak.runs) and the metrics they stream
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model TEXT NOT NULL,
        dataset TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        pid INTEGER,
        pid_started REAL,
        host TEXT,
        heartbeat REAL,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        params TEXT NOT NULL,
        seed INTEGER NOT NULL,
        provenance TEXT,
        threads INTEGER,
        device TEXT,
        nproc INTEGER NOT NULL DEFAULT 1,
        info TEXT,
        stage TEXT,
        epoch INTEGER,
        step INTEGER,
        checkpoint TEXT,
        log TEXT,
        error TEXT,
        result TEXT,
        created TEXT NOT NULL,
        started TEXT,
        ended TEXT
    );
    CREATE INDEX runs_status ON runs(status);
    CREATE TABLE run_metrics (
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        stage TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        step INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        time REAL NOT NULL
    );
    CREATE INDEX run_metrics_run ON run_metrics(run, scope, name, step);
    """,
]

_JSON_COLUMNS = {"info", "params", "sizes", "metrics", "provenance", "image_shape"}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Catalog:
    """Thin, typed access to ``catalog.sqlite``; rows come back as dicts with JSON decoded."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._wal()
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise damaged(self.path, str(exc)) from None

    def close(self):
        self._conn.close()

    def _wal(self, patience: float = 30.0):
        """Switch to write-ahead logging. SQLite answers 'database is locked' at once, without
        calling the busy handler, when another process is switching a fresh file at the same
        moment; so wait and ask again, as the busy timeout would."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self):
        """Bring the schema up to date. The version is read inside each write transaction, so two
        processes opening a fresh workspace at once never both run the same migration; an
        up-to-date catalog is only read, so opening one never waits for a writer."""
        if self._conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
            return
        while True:
            with self.transaction():
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                if version > len(MIGRATIONS):
                    raise WorkspaceError(f"the workspace catalog {self.path} was written by a newer cellwak "
                                         f"(schema {version}; this one knows {len(MIGRATIONS)})",
                                         "upgrade cellwak, or use another --home")
                if version == len(MIGRATIONS):
                    return
                for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version={version + 1}")

    @contextmanager
    def transaction(self):
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    @staticmethod
    def _decode(row: sqlite3.Row | None) -> dict | None:
        if row is None:
            return None
        out = dict(row)
        for k in _JSON_COLUMNS & out.keys():
            if out[k] is not None:
                out[k] = json.loads(out[k])
        return out

    @staticmethod
    def _encode(values: dict) -> dict:
        return {k: (dumps(v) if k in _JSON_COLUMNS and v is not None else v) for k, v in values.items()}

    def insert(self, table: str, values: dict) -> int:
        values = self._encode(values)
        cols = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        with self.transaction() as conn:
            cur = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", values)
            return cur.lastrowid

    def update(self, table: str, key: str, key_value, values: dict) -> None:
        values = self._encode(values)
        sets = ", ".join(f"{k} = :{k}" for k in values)
        with self.transaction() as conn:
            conn.execute(f"UPDATE {table} SET {sets} WHERE {key} = :_key", {**values, "_key": key_value})

    def delete(self, table: str, key: str, key_value) -> int:
        with self.transaction() as conn:
            return conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (key_value,)).rowcount

    def get(self, table: str, key: str, key_value) -> dict | None:
        row = self._conn.execute(f"SELECT * FROM {table} WHERE {key} = ?", (key_value,)).fetchone()
        return self._decode(row)

    def select(self, table: str, where: str = "", params=(), order: str = "") -> list[dict]:
        sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "") + (f" ORDER BY {order}" if order else "")
        return [self._decode(r) for r in self._conn.execute(sql, params).fetchall()]
