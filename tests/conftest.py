"""Shared fixtures: an isolated workspace, an in-process CLI runner, workspace snapshots."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RELIABILITY = Path(__file__).resolve().parent / "reliability"


def pytest_collection_modifyitems(config, items):
    """Everything under tests/reliability/ is the reliability suite (`pytest -m reliability`)."""
    for item in items:
        if RELIABILITY in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        import json

        lines = [line for line in self.out.splitlines() if line.strip()]
        assert len(lines) == 1, f"--json must print exactly one line, got {len(lines)}: {self.out[:500]}"
        return json.loads(lines[0])


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("CELLWAK_HOME", str(path))
    return path


@pytest.fixture
def cli(home, capsys):
    """Run ``cellwak ARGS`` in process against the test workspace."""
    from cellwak.cli import run

    def invoke(*args) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args] + ["--home", str(home)])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return invoke


def snapshot(home: Path) -> dict:
    """Everything a user could see of a workspace: artifact files and catalog rows."""
    state = {}
    if not home.exists():
        return state
    for p in sorted(home.rglob("*")):
        if p.is_file() and not p.name.startswith("catalog.sqlite"):
            state[str(p.relative_to(home))] = hashlib.sha1(p.read_bytes()).hexdigest()
    db = home / "catalog.sqlite"
    if db.exists():
        conn = sqlite3.connect(db)
        state["catalog"] = list(conn.iterdump())
        conn.close()
    return state


@pytest.fixture
def populated(cli, home, table_csv):
    """A workspace holding one dataset ('cells'), so 'unchanged' is a real check; its snapshot."""
    r = cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type")
    assert r.code == 0, r.err
    return snapshot(home)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (only developer and CI machines have it)")
    return SHARED_DATA


@pytest.fixture
def table_csv(tmp_path) -> Path:
    """A small table: id, label, batch, 5 numeric features in 3 clear groups."""
    rng = np.random.default_rng(0)
    n = 90
    labels = np.repeat(["a", "b", "c"], n // 3)
    centers = {"a": 0.0, "b": 8.0, "c": -8.0}
    X = np.stack([rng.normal(centers[l], 1.0, 5) for l in labels])
    path = tmp_path / "cells.csv"
    with open(path, "w") as fh:
        fh.write("cell,type,plate," + ",".join(f"m{j}" for j in range(5)) + "\n")
        for i in range(n):
            fh.write(f"c{i},{labels[i]},p{i % 2}," + ",".join(f"{v:.5f}" for v in X[i]) + "\n")
    return path
