"""Inputs that were accepted (or crashed) and must be refused with one line, exit status 2 and no
change to the workspace; files that must not be overwritten; a workspace that stays private."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from conftest import snapshot


@pytest.fixture
def cells(cli, home, table_csv):
    assert cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type").code == 0
    assert cli("cluster", "-d", "cells", "-k", "10").code == 0
    return "cells"


CASES = [
    (["cluster", "-d", "cells", "--gamma", "inf"], "--gamma must be > 0"),
    (["cluster", "-d", "cells", "--gamma", "nan"], "--gamma must be > 0"),
    (["sweep", "-d", "cells", "--gamma", "0.1:1:100000000"], "100000000 resolutions asked for"),
    (["sweep", "-d", "cells", "--gamma", "0.1,inf"], "positive finite numbers"),
    (["sweep", "-d", "cells", "--subsamples", "100000"], "at most 100 each"),
    (["train", "ae", "-d", "cells", "--lr", "inf"], "--lr must be a finite number greater than 0"),
    (["train", "ae", "-d", "cells", "--weight-decay", "nan"], "--weight-decay must be a finite number"),
    (["data", "add", "{csv}", "--name", "trailing\n"], "is not allowed"),
    (["data", "add", "{csv}", "--name", "a\nb"], "is not allowed"),
    (["data", "export", "cells", "--out", "{home}/datasets/cells/data.h5ad", "--force"], "is inside the workspace"),
    (["data", "export", "cells", "--out", "{home}/other.csv"], "is inside the workspace"),
    (["data", "export", "cells", "--out", "/proc/cellwak-export.csv"], "cannot write"),
    (["data", "export", "cells", "--out", "/nonexistent-folder/x.csv"], "does not exist"),
]


@pytest.mark.parametrize("args, words", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_refused_with_one_line_and_nothing_changed(cli, home, cells, table_csv, args, words):
    before = snapshot(home)
    args = [a.format(csv=table_csv, home=home) for a in args]
    r = cli(*args)
    assert r.code == 2, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cellwak: error: ") and words in lines[0], lines
    assert snapshot(home) == before


def test_all_constant_features_are_not_clustered(cli, home, tmp_path):
    path = tmp_path / "flat.npy"
    np.save(path, np.ones((200, 6), dtype=np.float32))
    assert cli("data", "add", path, "--name", "flat").code == 0
    before = snapshot(home)
    r = cli("cluster", "-d", "flat")
    assert r.code == 2 and "nothing to cluster" in r.err and snapshot(home) == before


def test_the_workspace_is_private(cli, home, cells):
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "catalog.sqlite").stat().st_mode) == 0o600


def test_leftovers_of_killed_commands_are_swept_on_the_next_start(cli, home, cells):
    dead = 2 ** 22 + 12345  # above the kernel's pid_max default: no such process
    stale = [home / "datasets" / "cells" / f".data.h5ad.tmp-{dead}-abcd1234",
             home / "datasets" / "cells" / "clusterings" / f".x.npz.tmp-{dead}-abcd1234",
             home / "datasets" / f".new.tmp-{dead}-abcd1234"]
    for p in stale:
        p.write_bytes(b"partial")
    alive = home / "datasets" / "cells" / f".data.h5ad.tmp-{__import__('os').getpid()}-abcd1234"
    alive.write_bytes(b"a live writer's file")
    assert cli("data", "list").code == 0
    assert not any(p.exists() for p in stale) and alive.exists()
    alive.unlink()


def test_a_sweep_is_recorded_completely_or_not_at_all(cli, home, cells, monkeypatch):
    """A failure while recording (here: the last label file cannot be written) leaves no row."""
    from cellwak.store import workspace as ws_module

    calls = {"n": 0}
    real = ws_module.atomic_path

    def failing(path, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(path, **kw)

    rows_before = len(cli("clusters", "list", "--json").json()["clusterings"])
    monkeypatch.setattr(ws_module, "atomic_path", failing)
    r = cli("sweep", "-d", "cells", "--gamma", "0.2,0.5,1,2", "--subsamples", "1", "--jobs", "1")
    monkeypatch.undo()
    assert r.code == 1  # a full disk is not the user's input: reported as an error
    assert len(cli("clusters", "list", "--json").json()["clusterings"]) == rows_before
    labels = list((home / "datasets" / "cells" / "clusterings").glob("*.npz"))
    assert len(labels) == rows_before  # the label files written before the failure were removed
