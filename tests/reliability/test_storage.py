"""Nothing lost under concurrent use and crashes: real processes (``python -m cellwak``) on one
workspace, some of them killed at random moments; the workspace must stay consistent and no
finished command's result may be lost."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

CELLWAK = [sys.executable, "-m", "cellwak"]


def run(home, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([*CELLWAK, *map(str, args), "--home", str(home), "--quiet"], capture_output=True,
                          text=True, timeout=timeout)


def start(home, *args) -> subprocess.Popen:
    return subprocess.Popen([*CELLWAK, *map(str, args), "--home", str(home), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def table(path: Path, n: int = 600, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 4, n)
    X = rng.normal(0, 3, (4, 10))[groups] + rng.normal(0, 1, (n, 10))
    with open(path, "w") as fh:
        fh.write("cell,type," + ",".join(f"m{j}" for j in range(10)) + "\n")
        for i in range(n):
            fh.write(f"c{i},t{groups[i]}," + ",".join(f"{v:.4f}" for v in X[i]) + "\n")
    return path


def consistent(home: Path) -> dict:
    """The integrity report with no problem left except leftovers of killed processes (which the
    next command sweeps)."""
    from cellwak.api.installation import check_workspace

    report = check_workspace(home)
    bad = [p for p in report["problems"] if p["kind"] not in ("temporary", "run")]
    assert not bad, bad
    return report


@pytest.fixture
def cells(tmp_path):
    home = tmp_path / "home"
    r = run(home, "data", "add", table(tmp_path / "cells.csv"), "--id", "cell", "--label", "type")
    assert r.returncode == 0, r.stderr
    return home


def test_concurrent_writers_lose_nothing_and_a_reader_never_fails(cells, tmp_path):
    """4 processes of mixed commands on one dataset, and a reader polling the catalog as the
    dashboard will: every result is recorded and present in the dataset."""
    home = cells
    reader = subprocess.Popen([sys.executable, "-c", f"""
import sqlite3, time, sys
from cellwak.api import list_clusterings, show_dataset
end = time.time() + 25
n = 0
while time.time() < end:
    list_clusterings({str(home)!r}, "cells"); show_dataset({str(home)!r}, "cells"); n += 1
print(n)
"""], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [start(home, "sweep", "-d", "cells", "--gamma", "0.2,0.5,1", "--subsamples", "1", "--jobs", "1"),
             start(home, "cluster", "-d", "cells", "--gamma", "0.7", "--seed", "1"),
             start(home, "classify", "-d", "cells", "--label", "type", "--trees", "10"),
             start(home, "dewak", "-d", "cells", "--k-max", "20", "--search", "golden")]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "database is locked" not in err
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0 and int(out) > 5, err
    import cellwak as cw

    ws = cw.Workspace(home)
    rows = ws.clusterings("cells")
    assert sorted(r["method"] for r in rows) == ["leiden", "leiden-sweep", "leiden-sweep", "leiden-sweep"]
    adata = ws.load("cells")
    keys = {r["key"] for r in rows} | {"cellwak_predicted_labels"}
    assert keys <= set(adata.obs.columns), keys - set(adata.obs.columns)
    assert "cellwak_dewak" in adata.uns and "cellwak_leiden_sweep" in adata.uns
    consistent(home)


def test_same_name_races_end_with_one_dataset_and_a_clean_refusal(tmp_path):
    home = tmp_path / "home"
    small, large = table(tmp_path / "a.csv", 300, 1), table(tmp_path / "b.csv", 310, 2)
    for trial in range(3):
        name = f"race{trial}"
        a, b = start(home, "data", "add", small, "--name", name), start(home, "data", "add", large, "--name", name)
        results = [(p.wait(timeout=120), p.stderr.read()) for p in (a, b)]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], results
        loser = next(err for code, err in results if code == 2)
        assert loser.strip().splitlines() == [f"cellwak: error: a dataset named '{name}' already exists; choose "
                                              f"another --name, or remove it first with `cellwak data rm {name}`"]
        import cellwak as cw

        ws = cw.Workspace(home)
        row = ws.dataset(name, builtin_ok=False)
        assert ws.load(name).n_obs == row["n_obs"] in (300, 310)
    consistent(home)


def test_data_rm_while_a_cluster_saves_is_never_an_internal_error(cells):
    home = cells
    for delay in (0.5, 1.5, 3.0):
        c = start(home, "cluster", "-d", "cells", "--gamma", "auto", "--subsamples", "2", "--jobs", "1")
        time.sleep(delay)
        rm = run(home, "data", "rm", "cells")
        out, err = c.communicate(timeout=300)
        assert rm.returncode == 0, rm.stderr
        assert c.returncode in (0, 2), err  # finished before the removal, or refused cleanly after it
        if c.returncode == 2:
            assert "no dataset named 'cells'" in err or "was removed" in err
        consistent(home)
        assert run(home, "data", "add", table(home.parent / "cells.csv"), "--id", "cell", "--label", "type",
                   "--name", "cells").returncode == 0


KILLABLE = {
    "data add": lambda d: ["data", "add", table(d / "k.csv", 3000), "--name", "killed"],
    "cluster": lambda d: ["cluster", "-d", "cells", "--gamma", "auto", "--subsamples", "3", "--jobs", "1"],
    "sweep": lambda d: ["sweep", "-d", "cells", "--gamma", "0.05:3:12", "--subsamples", "2", "--jobs", "1"],
    "export": lambda d: ["data", "export", "cells", "--out", d / "out.h5ad", "--force"],
    "train": lambda d: ["train", "ae", "-d", "cells", "--epochs", "30", "--threads", "1", "--checkpoint-every", "1"],
}


@pytest.mark.parametrize("command", list(KILLABLE))
def test_sigkill_at_random_moments_leaves_a_consistent_workspace(cells, tmp_path, command):
    """SIGKILL at random moments of each writing command: afterwards the catalog is intact, every
    row points at a complete file, recorded clusterings are all in the dataset, and the next
    commands work (a killed run resumes to the end)."""
    import shutil

    home = cells
    rng = random.Random(sum(map(ord, command)))
    rehearsal = tmp_path / "rehearsal"  # how long the command takes here, in a copy of the workspace
    shutil.copytree(home, rehearsal)
    t = time.monotonic()
    assert run(rehearsal, *KILLABLE[command](tmp_path)).returncode == 0
    duration = time.monotonic() - t
    before = {r["id"] for r in __import__("cellwak").Workspace(home).clusterings("cells")}
    tried = attempt = 0
    while attempt < 3 or (tried == 0 and attempt < 8):  # at least one kill, however the machine's load varies
        attempt += 1
        p = start(home, *KILLABLE[command](tmp_path))
        delay = rng.uniform(0.2, 0.8) * duration
        time.sleep(delay)  # somewhere in its run, start-up included
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            tried += 1
        else:
            duration = min(duration, delay)  # it ran faster than the rehearsal: aim earlier next time
        p.wait(timeout=60)
        report = consistent(home)
        assert report["checked"]["datasets"] >= 1
        import cellwak as cw

        ws = cw.Workspace(home)
        rows = ws.clusterings("cells")
        assert before <= {r["id"] for r in rows}  # nothing recorded earlier was lost
        adata = ws.load("cells")
        assert {r["key"] for r in rows} <= set(adata.obs.columns)  # every recorded clustering is in the data
        sweeps = [r for r in rows if r["method"] == "leiden-sweep" and r["id"] not in before]
        if command == "sweep":
            assert len(sweeps) % 12 == 0  # a sweep is recorded whole or not at all
        before = {r["id"] for r in rows}
        if command == "data add":
            assert not any(r["name"] == "killed" for r in ws.datasets()) or ws.load("killed").n_obs == 3000
            run(home, "data", "rm", "killed")
        ws.close()
    assert run(home, "cluster", "-d", "cells").returncode == 0
    if command == "train":
        import cellwak as cw

        runs = [r for r in cw.api.list_runs(home) if r["status"] != "done"]
        for r in runs:
            resumed = run(home, "runs", "resume", r["id"])
            assert resumed.returncode == 0, resumed.stderr
    leftovers = [p for p in home.rglob("*") if ".tmp-" in p.name]
    assert not leftovers, leftovers  # swept by the commands that followed
    assert tried >= 1


def test_damaged_workspaces_are_refused_with_one_line_and_repaired(cells):
    home = cells
    data = next((home / "datasets" / "cells").glob("data.h5ad"))
    original = data.read_bytes()
    data.write_bytes(original[: len(original) // 3])  # truncated
    r = run(home, "cluster", "-d", "cells")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "is missing or damaged" in r.stderr
    data.unlink()
    r = run(home, "data", "export", "cells", "--out", home.parent / "x.csv")
    assert r.returncode == 2 and "is missing or damaged" in r.stderr
    fixed = run(home, "doctor", "--workspace", "--repair")
    assert fixed.returncode == 0, fixed.stdout
    assert run(home, "data", "list", "--json").stdout.count('"name": "cells"') == 0

    conn = sqlite3.connect(home / "catalog.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    r = run(home, "data", "list")
    assert r.returncode == 2 and "written by a newer cellwak (schema 99" in r.stderr
