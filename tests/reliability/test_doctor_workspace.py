"""`cellwak doctor --workspace [--repair]`: what it finds, what it repairs, what it leaves."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import snapshot


@pytest.fixture
def populated(cli, home, table_csv):
    assert cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type").code == 0
    assert cli("sweep", "-d", "cells", "-k", "10", "--gamma", "0.5,1", "--subsamples", "1").code == 0
    return home


def _problems(cli, *extra):
    r = cli("doctor", "--workspace", *extra, "--json")
    return r.code, r.json()["workspace_check"]


def test_a_healthy_workspace_has_no_problems(cli, populated):
    code, report = _problems(cli)
    assert code == 0 and report["problems"] == [] and report["checked"] == {"datasets": 1, "clusterings": 2, "runs": 0}


def test_problems_are_found_without_changing_anything_then_repaired(cli, populated):
    home = populated
    dead = 2 ** 22 + 777
    (home / "datasets" / "ghost").mkdir()                                          # folder without a row
    (home / "datasets" / "cells" / "clusterings" / "stray-0123456789ab.npz").write_bytes(b"x")  # file without a row
    (home / "datasets" / "cells" / f".data.h5ad.tmp-{dead}-abcdef12").write_bytes(b"partial")  # killed writer
    label_files = sorted((home / "datasets" / "cells" / "clusterings").glob("cellwak_leiden_g1-*.npz"))
    label_files[0].write_bytes(b"damaged")                                         # a row's labels damaged
    before = snapshot(home)
    code, report = _problems(cli)
    assert code == 1 and not report["ok"]
    kinds = sorted((p["kind"], p["repaired"]) for p in report["problems"])
    assert kinds == [("clustering", False), ("orphan", False), ("orphan", False), ("temporary", False)]
    assert snapshot(home) == before  # a check changes nothing

    code, report = _problems(cli, "--repair")
    assert code == 0 and report["ok"] and all(p["repaired"] for p in report["problems"])
    code, report = _problems(cli)
    assert code == 0 and report["problems"] == []
    assert not (home / "datasets" / "ghost").exists()
    assert len(cli("clusters", "list", "--json").json()["clusterings"]) == 1  # the damaged one's row is gone
    assert cli("cluster", "-d", "cells", "-k", "10").code == 0  # and the workspace works


def test_a_dead_run_is_found_and_marked_failed(cli, populated):
    import time

    from cellwak.runs import RunStore
    from cellwak.store import Workspace

    store = RunStore(Workspace(populated))
    row = store.create({"model": "ae", "dataset": "cells", "params": {"model": {}, "train": {}}, "seed": 0, "nproc": 1})
    store.update(row["id"], {"status": "running", "pid": 2 ** 22 + 99, "heartbeat": time.time()})
    code, report = _problems(cli)
    assert code == 1 and [p["kind"] for p in report["problems"]] == ["run"]
    code, report = _problems(cli, "--repair")
    assert code == 0 and store.get(row["id"], refresh=False)["status"] == "failed"


def test_a_damaged_catalog_is_rebuilt_from_the_dataset_folders(cli, populated):
    home = populated
    labels_before = sorted(np.load(p)["labels"].tolist() for p in (home / "datasets" / "cells" / "clusterings").glob("*.npz"))
    (home / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (home / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    r = cli("data", "list")
    assert r.code == 2 and "is damaged" in r.err and "doctor --workspace --repair" in r.err
    code, report = _problems(cli, "--repair")
    assert code == 0 and report["problems"][0]["kind"] == "catalog" and "rebuilt from 1 dataset" in report["problems"][0]["detail"]
    assert list(home.glob("catalog.sqlite.damaged-*"))  # the damaged file is kept, moved aside
    shown = cli("data", "show", "cells", "--json").json()
    assert shown["n_obs"] == 90 and len(shown["clusterings"]) == 2
    labels_after = sorted(np.load(p)["labels"].tolist() for p in (home / "datasets" / "cells" / "clusterings").glob("*.npz"))
    assert labels_after == labels_before
