"""Training runs from the command line: recorded, detached, killed, cancelled, resumed, DDP,
and bad input refused without a trace."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time

import numpy as np
import pytest
import torch

from conftest import snapshot

from cellwak.runs import RunStore
from cellwak.store import Workspace

FAST = ["--threads", "1", "--seed", "3"]


@pytest.fixture
def cells(cli, home, tmp_path):
    """A 1,500 x 32 feature table with three groups, added as dataset 'cells'."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, (3, 32))
    X = (centers[rng.integers(0, 3, 1500)] + rng.normal(0, 1, (1500, 32))).astype(np.float32)
    np.save(tmp_path / "cells.npy", X)
    r = cli("data", "add", tmp_path / "cells.npy", "--name", "cells")
    assert r.code == 0, r.err
    yield "cells"
    _kill_leftovers(home)


def _kill_leftovers(home):
    """No test leaves a training process behind."""
    db = home / "catalog.sqlite"
    if not db.exists():
        return
    conn = sqlite3.connect(db)
    pids = [p for (p,) in conn.execute("SELECT pid FROM runs WHERE pid IS NOT NULL")]
    conn.close()
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            os.killpg(pid, signal.SIGKILL)  # detached runs lead their own session
        except (ProcessLookupError, PermissionError):
            pass
        _reap(pid)


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def weights(home, run_id):
    return torch.load(home / "runs" / str(run_id) / "model.pt", weights_only=True)


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def wait_for(predicate, timeout=60.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out")


def detach_and_kill_after_first_checkpoint(cli, home, args) -> int:
    """Start ``cellwak ARGS --detach`` and SIGKILL its process once it has a checkpoint."""
    r = cli(*args, "--detach")
    assert r.code == 0, r.err
    run_id = int(r.out.strip())
    row = first_checkpoint(home, run_id)
    os.kill(row["pid"], signal.SIGKILL)
    _reap(row["pid"])
    return run_id


def first_checkpoint(home, run_id):
    """Poll the catalog (as a user's script would) until the run has recorded a checkpoint."""
    store = RunStore(Workspace(home))
    try:
        return wait_for(lambda: (lambda r: r if r["checkpoint"] else None)(store.get(run_id, refresh=False)))
    finally:
        store.ws.close()


def test_train_ae_records_a_run_and_writes_the_embedding(cli, home, cells):
    r = cli("train", "ae", "-d", cells, "--epochs", "3", "--latent", "4", "--checkpoint-every", "1", *FAST, "--json")
    assert r.code == 0, r.err
    run = r.json()
    assert run["status"] == "done" and run["epoch"] == 3 and run["result"]["outputs"] == ["obsm/X_ae"]
    assert run["result"]["stages"]["fit"]["test/loss"] < run["result"]["stages"]["fit"]["train/loss"] * 2
    assert run["provenance"]["versions"]["torch"] and run["provenance"]["device"] == "cpu"
    assert run["threads"] == 1 and run["device"] == "cpu" and run["seed"] == 3 and run["nproc"] == 1

    shown = cli("runs", "show", run["run_id"], "--json").json()
    assert {"status", "pid", "epoch", "checkpoint"} <= set(shown)
    assert shown["checkpoint"].endswith(".pt") and os.path.exists(shown["checkpoint"])
    assert set(shown["last_metrics"]) >= {"train/loss", "test/loss"}
    listed = cli("runs", "list", "--json").json()["runs"]
    assert [(x["id"], x["status"]) for x in listed] == [(run["run_id"], "done")]

    adata = Workspace(home).load(cells)
    assert adata.obsm["X_ae"].shape == (1500, 4)
    assert adata.uns["cellwak"]["train_ae"]["run"] == run["run_id"]
    store = RunStore(Workspace(home))
    steps = store.metrics(run["run_id"], scope="step", name="train/loss")
    spe = run["info"]["steps_per_epoch"]
    assert [m["step"] for m in steps] == list(range(1, 3 * spe + 1))
    assert len(store.metrics(run["run_id"], scope="epoch", name="test/loss")) == 3
    log = cli("runs", "logs", run["run_id"]).out
    assert "fit epoch 3/3" in log and f"run {run['run_id']} done" in log
    assert cli("cluster", "-d", cells, "--rep", "X_ae", "-k", "10").code == 0


@pytest.mark.slow  # 13 s: a detached run killed and resumed
def test_sigkill_after_first_checkpoint_then_resume_gives_the_uninterrupted_weights(cli, home, cells):
    args = ["train", "ae", "-d", cells, "--epochs", "30", "--batch-size", "8", "--checkpoint-every", "1", *FAST]
    reference = cli(*args, "--json")
    assert reference.code == 0, reference.err
    ref_id = reference.json()["run_id"]

    run_id = detach_and_kill_after_first_checkpoint(cli, home, args)
    shown = cli("runs", "show", run_id, "--json").json()
    assert shown["status"] == "failed", shown
    assert "is gone" in shown["error"] and f"cellwak runs resume {run_id}" in shown["error"]
    assert shown["epoch"] < 30

    resumed = cli("runs", "resume", run_id, "--json")
    assert resumed.code == 0, resumed.err
    done = resumed.json()
    assert done["status"] == "done" and done["attempt"] == 2 and done["epoch"] == 30
    assert same_weights(weights(home, run_id), weights(home, ref_id))
    store = RunStore(Workspace(home))  # the metric stream has no gaps or repeats across the kill
    epochs = [m["epoch"] for m in store.metrics(run_id, scope="epoch", name="train/loss")]
    assert epochs == list(range(1, 31))
    ref_losses = [m["value"] for m in store.metrics(ref_id, scope="epoch", name="test/loss")]
    assert [m["value"] for m in store.metrics(run_id, scope="epoch", name="test/loss")] == ref_losses


@pytest.mark.slow  # 15 s: detached runs cancelled and resumed
def test_cancel_checkpoints_and_resume_detached_finishes_identically(cli, home, cells):
    args = ["train", "ae", "-d", cells, "--epochs", "30", "--batch-size", "8", "--checkpoint-every", "100", *FAST]
    r = cli(*args, "--detach", "--json")
    assert r.code == 0, r.err
    run_id = r.json()["run_id"]
    store = RunStore(Workspace(home))
    wait_for(lambda: store.get(run_id)["status"] == "running")  # no checkpoint yet (every 100 epochs)

    cancelled = cli("runs", "cancel", run_id, "--json")
    assert cancelled.code == 0, cancelled.err
    row = cancelled.json()
    assert row["status"] == "cancelled" and row["checkpoint"] and os.path.exists(row["checkpoint"])
    assert row["epoch"] < 30 and row["step"] >= 1
    assert "stop requested" in cli("runs", "logs", run_id).out
    assert cli("runs", "cancel", run_id).code == 2  # not running any more

    assert cli("runs", "resume", run_id, "--detach").code == 0
    followed = cli("runs", "logs", run_id, "--follow")
    assert f"run {run_id} done" in followed.out
    assert cli("runs", "show", run_id, "--json").json()["status"] == "done"
    reference = cli(*args, "--json").json()
    assert same_weights(weights(home, run_id), weights(home, reference["run_id"]))


def test_divergence_fails_the_run_with_one_line(cli, home, cells):
    r = cli("train", "ae", "-d", cells, "--epochs", "3", "--lr", "1e6", "--activation", "relu", *FAST)
    assert r.code == 1
    lines = r.err.strip().splitlines()
    errors = [line for line in lines if line.startswith("cellwak: error:")]
    assert errors == [lines[-1]] and lines[-1].startswith("cellwak: error: run 1 failed: loss became ")
    assert "lower --lr (now 1e+06)" in lines[-1] and "Traceback" not in r.err
    quiet = cli("train", "ae", "-d", cells, "--epochs", "3", "--lr", "1e6", "--activation", "relu", *FAST, "--quiet")
    assert quiet.code == 1 and len(quiet.err.strip().splitlines()) == 1  # --quiet: the error line only
    shown = cli("runs", "show", "1", "--json").json()
    assert shown["status"] == "failed" and shown["error"].startswith("loss became ")


def test_stale_heartbeat_marks_a_run_failed(cli, home, cells, monkeypatch):
    monkeypatch.setenv("CELLWAK_RUN_STALE_AFTER", "5")
    ws = Workspace(home)
    store = RunStore(ws)
    row = store.create({"model": "ae", "dataset": cells, "params": {}, "seed": 0, "device": "cpu", "nproc": 1})
    from cellwak.runs.store import hostname, process_identity

    pid, started = process_identity()  # alive (this process), but silent for 10 minutes
    store.update(row["id"], {"status": "running", "pid": pid, "pid_started": started, "host": hostname(),
                             "heartbeat": time.time() - 600})
    ws.close()
    shown = cli("runs", "show", row["id"], "--json").json()
    assert shown["status"] == "failed" and re.search(r"no heartbeat for 6\d\d s", shown["error"])


@pytest.mark.slow  # 7 s: torchrun with two processes
def test_two_processes_with_gloo_match_one_process_with_the_doubled_batch(cli, home, cells):
    ddp = cli("train", "ae", "-d", cells, "--epochs", "2", "--batch-size", "16", "--nproc", "2", *FAST, "--json")
    assert ddp.code == 0, ddp.err
    run = ddp.json()
    assert run["status"] == "done" and run["nproc"] == 2 and run["provenance"]["world_size"] == 2
    single = cli("train", "ae", "-d", cells, "--epochs", "2", "--batch-size", "32", *FAST, "--json").json()
    assert run["result"]["steps"] == single["result"]["steps"]
    a, b = weights(home, run["run_id"]), weights(home, single["run_id"])
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)  # equal up to the order of float sums


def test_runs_on_a_new_workspace_create_nothing(cli, home):
    assert cli("runs", "list", "--json").json() == {"runs": []}
    r = cli("runs", "show", "1")
    assert r.code == 2 and "no run #1" in r.err
    assert not home.exists()


@pytest.fixture
def with_done_run(cli, home, cells):
    r = cli("train", "ae", "-d", cells, "--epochs", "1", *FAST, "--json")
    assert r.code == 0, r.err
    return r.json()["run_id"]


@pytest.mark.parametrize("args, message", [
    (["train", "ae", "-d", "nope"], "no dataset named 'nope'"),
    (["train", "ae", "--epochs", "0"], "--epochs must be at least 1"),
    (["train", "ae", "--epochs", "many"], "--epochs 'many' is not a number"),
    (["train", "ae", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["train", "ae", "--batch-size", "5000"], "--batch-size 5000 is larger than the 1350 training cells"),
    (["train", "ae", "--device", "tpu"], "unknown --device 'tpu'"),
    (["train", "ae", "--lr", "0"], "--lr must be a finite number greater than 0"),
    (["train", "ae", "--lr", "-1"], "--lr must be a finite number greater than 0"),
    (["train", "ae", "--optimizer", "sgd"], "'--optimizer': 'sgd' is not one of 'adamw', 'adam-reset'"),
    (["train", "ae", "--test-size", "1500"], "leaving none to train on"),
    (["train", "ae", "--patience", "0"], "--patience must be at least 1"),
    (["train", "ae", "--nproc", "0"], "--nproc must be at least 1"),
    (["train", "ae", "--rep", "X_nope"], "no representation 'X_nope'"),
    (["train", "ae", "--latent", "0"], "--latent must be at least 1"),
    (["train", "ae", "--activation", "swish"], "'--activation': 'swish' is not one of 'tanh', 'relu'"),
    (["train", "ae", "--threads", "0"], "--threads must be at least 1"),
    (["runs", "list", "--status", "finished"], "'--status': 'finished' is not one of 'queued'"),
    (["runs", "show", "999"], "no run #999"),
    (["runs", "show", "abc"], "no run 'abc'"),
    (["runs", "logs", "999"], "no run #999"),
    (["runs", "cancel", "999"], "no run #999"),
    (["runs", "resume", "999"], "no run #999"),
    (["runs", "resume", "{done}"], "is done; there is nothing to resume"),
    (["runs", "cancel", "{done}"], "is done, not running"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(cli, home, cells, with_done_run, args, message):
    args = [a if a != "{done}" else str(with_done_run) for a in args]
    if args[:2] == ["train", "ae"] and "-d" not in args:
        args += ["-d", cells]
    before = snapshot(home)
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cellwak: error: ") and message in lines[0], r.err
    assert snapshot(home) == before


def test_cuda_on_a_machine_without_it_is_refused(cli, home, cells):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    before = snapshot(home)
    r = cli("train", "ae", "-d", cells, "--device", "cuda")
    assert r.code == 2 and "CUDA is not available" in r.err
    assert snapshot(home) == before


def test_bad_training_input_on_an_unregistered_builtin_leaves_no_trace(cli, home):
    r = cli("train", "ae", "--epochs", "0")  # the built-in 'blood' dataset is not in the workspace yet
    assert r.code == 2 and "--epochs must be at least 1" in r.err
    assert not home.exists()
