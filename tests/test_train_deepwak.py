"""`cellwak train deepwak`: outputs in the dataset and the run folder, the --published switch,
SIGKILL and exact resume across stages, and bad settings refused without a trace."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import snapshot
from test_runs import FAST, cells, detach_and_kill_after_first_checkpoint, same_weights, weights  # noqa: F401

from cellwak.store import Workspace

TINY = ["--heads", "2", "--clusters", "3", "--dim", "2", "--batch-size", "64"]


def test_train_deepwak_writes_embedding_soft_partition_and_clusters(cli, home, cells):
    r = cli("train", "deepwak", "-d", cells, *TINY, "--epochs", "2", *FAST, "--json")
    assert r.code == 0, r.err
    run = r.json()
    assert run["status"] == "done" and list(run["result"]["stages"]) == ["block", "consensus_partitioner",
                                                                         "consensus_encoder"]
    assert run["params"]["train"]["optimizer"] == "adamw"  # the improved default: persistent AdamW
    assert run["params"]["model"]["wak_norm"] == "col"
    adata = Workspace(home).load(cells)
    assert adata.obsm["X_deepwak"].shape == (1500, 2) and adata.obsm["deepwak_soft"].shape == (1500, 3)
    assert adata.obsm["X_deepwak_heads"].shape == (1500, 4)
    assert {"deepwak_cluster", "deepwak_head1", "deepwak_head2"} <= set(adata.obs)
    saved = np.load(run["result"]["outputs_file"])
    assert np.array_equal(saved["obs/deepwak_cluster"], adata.obs["deepwak_cluster"].to_numpy())
    assert cli("cluster", "-d", cells, "--rep", "X_deepwak", "-k", "10").code == 0


def test_published_switch_sets_the_reference_behaviour_and_the_user_still_wins(cli, home, cells):
    r = cli("train", "deepwak", "-d", cells, *TINY, "--epochs", "1", "--published", *FAST, "--json")
    assert r.code == 0, r.err
    params = r.json()["params"]
    assert params["train"]["optimizer"] == "adam-reset" and params["train"]["test_every_step"] is True
    r = cli("train", "deepwak", "-d", cells, *TINY, "--epochs", "1", "--published", "--optimizer", "adamw", *FAST,
            "--json")
    assert r.code == 0 and r.json()["params"]["train"]["optimizer"] == "adamw"


@pytest.mark.slow  # 7 s: a killed 3-stage run resumed
def test_sigkill_in_the_block_stage_then_resume_gives_the_uninterrupted_weights(cli, home, cells):
    args = ["train", "deepwak", "-d", cells, *TINY, "--epochs", "block=6,consensus_partitioner=2,consensus_encoder=2",
            "--checkpoint-every", "1", "--published", *FAST]
    reference = cli(*args, "--json")
    assert reference.code == 0, reference.err
    run_id = detach_and_kill_after_first_checkpoint(cli, home, args)
    assert cli("runs", "show", run_id, "--json").json()["status"] == "failed"
    resumed = cli("runs", "resume", run_id, "--json")
    assert resumed.code == 0, resumed.err
    assert resumed.json()["status"] == "done"
    assert same_weights(weights(home, run_id), weights(home, reference.json()["run_id"]))


@pytest.mark.parametrize("args, message", [
    (["--heads", "0"], "--heads must be at least 1"),
    (["--clusters", "1"], "--clusters must be at least 2"),
    (["--dim", "0"], "--dim must be at least 1"),
    (["--batch-size", "5000"], "--batch-size 5000 is larger than"),
    (["--device", "tpu"], "unknown --device 'tpu'"),
    (["--variant", "v3"], "'--variant': 'v3' is not one of 'v2', 'v1'"),
    (["--pool", "max"], "'--pool': 'max' is not one of 'sum', 'linear'"),
    (["--wak-norm", "sym"], "'--wak-norm': 'sym' is not one of 'col', 'row'"),
    (["--epochs", "blok=3"], "--epochs names no stage 'blok'"),
])
def test_bad_settings_exit_2_with_one_line_and_no_run(cli, home, cells, args, message):
    before = snapshot(home)
    r = cli("train", "deepwak", "-d", cells, *args)
    assert r.code == 2, (r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.err
    assert snapshot(home) == before


def test_raw_pixels_are_refused_with_a_pointer_to_an_embedding(cli, home):
    r = cli("train", "deepwak", "-d", "blood")
    assert r.code == 2 and "million parameters" in r.err and "--rep X_pca" in r.err
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())
