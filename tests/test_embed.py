"""`cellwak embed --run ID [--dataset D]`: a done run's outputs into its own or another dataset."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import snapshot
from test_runs import FAST, cells  # noqa: F401 (fixture)

from cellwak.store import Workspace


@pytest.fixture
def trained(cli, home, cells, tmp_path):
    r = cli("train", "ae", "-d", cells, "--epochs", "2", "--latent", "3", *FAST, "--json")
    assert r.code == 0, r.err
    rng = np.random.default_rng(1)
    np.save(tmp_path / "more.npy", rng.normal(0, 3, (200, 32)).astype(np.float32))
    np.save(tmp_path / "narrow.npy", rng.normal(0, 3, (200, 7)).astype(np.float32))
    for name in ("more", "narrow"):
        assert cli("data", "add", tmp_path / f"{name}.npy", "--name", name).code == 0
    return r.json()["run_id"]


def test_embed_into_the_runs_own_and_another_dataset(cli, home, cells, trained):
    own = Workspace(home).load(cells).obsm["X_ae"].copy()
    r = cli("embed", "--run", trained, "--json")
    assert r.code == 0, r.err
    assert r.json()["dataset"] == cells
    assert np.array_equal(Workspace(home).load(cells).obsm["X_ae"], own)
    r = cli("embed", "--run", trained, "-d", "more", "--json")
    assert r.code == 0, r.err
    assert r.json()["outputs"] == ["obsm/X_ae"]
    adata = Workspace(home).load("more")
    assert adata.obsm["X_ae"].shape == (200, 3) and adata.uns["cellwak"]["embed_ae"]["run"] == trained


@pytest.mark.parametrize("args, message", [
    (["--run", "999"], "no run #999"),
    (["--run", "{run}", "-d", "narrow"], "another shape than dataset 'narrow'"),
    (["--run", "{run}", "-d", "nope"], "no dataset named 'nope'"),
])
def test_bad_embed_input_exits_2_and_changes_nothing(cli, home, trained, args, message):
    args = [str(trained) if a == "{run}" else a for a in args]
    before = snapshot(home)
    r = cli("embed", *args)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and message in r.err, r.err
    assert snapshot(home) == before
