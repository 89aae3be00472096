"""VIME (models/vime.py): the corruption, both stages, labels hidden as asked, outputs, and
settings that cannot work refused from the command line without a trace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import snapshot
from test_runs import FAST

from cellwak.errors import InputError
from cellwak.models import create_task
from cellwak.models.vime import corrupt
from cellwak.store import Workspace
from cellwak.train import MemoryRecorder, TrainConfig, fit


def groups(n=900, m=8, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = (rng.normal(0, 3, (3, m))[y] + rng.normal(0, 1, (n, m))).astype(np.float32)
    return X, np.array([f"g{v}" for v in y], dtype=object)


def test_corruption_draws_each_column_from_other_cells_of_the_same_feature():
    torch.manual_seed(0)
    x = torch.arange(40, dtype=torch.float32).reshape(10, 4)  # column j holds values = j (mod 4)
    xt, mask = corrupt(x, 0.5)
    assert 0.2 < float(mask.mean()) < 0.8
    assert torch.equal(xt[mask == 0], x[mask == 0])
    assert torch.equal(xt.long() % 4, x.long() % 4)  # a corrupted entry stays in its own column


def test_self_then_semi_learns_the_groups_from_few_labels():
    X, y = groups()
    labels = y.copy()
    labels[:100] = None  # cells without a label
    torch.manual_seed(0)
    task = create_task("vime", X, labels=labels, label_fraction=0.05, self_epochs=3, semi_epochs=40)
    assert [s.name for s in task.stages()] == ["self", "semi"]
    assert task.config["labels_visible"] == 40 and task.config["classes"] == ["g0", "g1", "g2"]
    visible = task.data[:, -1].numpy() > 0
    assert not visible[:100].any()  # an unlabelled cell is never shown as labelled
    rec = MemoryRecorder()
    fit(task, TrainConfig(seed=0, test_size=0.2), rec)
    semi = [m for stage, _, _, m in rec.epochs if stage == "semi"]
    assert semi[-1]["test/accuracy"] > 0.9
    out = task.outputs(task.data)
    assert out["obsm/X_vime"].shape == (900, 8) and out["obsm/vime_proba"].shape == (900, 3)
    assert (out["obs/vime_prediction"][100:] == y[100:]).mean() > 0.9


def test_without_labels_only_the_self_stage_runs():
    X, _ = groups(300)
    task = create_task("vime", X, labels=None)
    assert [s.name for s in task.stages()] == ["self"]
    fit(task, TrainConfig(epochs=2, seed=0))
    assert set(task.outputs(task.data)) == {"obsm/X_vime"}


@pytest.mark.parametrize("settings, message", [
    ({"p_m": 0}, "--p-m must be between 0 and 1"),
    ({"p_m": 1.5}, "--p-m must be between 0 and 1"),
    ({"k": 0}, "--k must be at least 1"),
    ({"label_fraction": 2}, "--label-fraction must be between 0 and 1"),
    ({"alpha": -1}, "--alpha and --beta must be 0 or more"),
])
def test_settings_that_cannot_work_are_refused(settings, message):
    with pytest.raises(InputError, match=message):
        create_task("vime", groups(100)[0], labels=None, **settings)


@pytest.fixture
def labelled(cli, home, tmp_path):
    X, y = groups()
    import pandas as pd

    pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(group=y).to_csv(tmp_path / "cells.csv",
                                                                                     index=False)
    r = cli("data", "add", tmp_path / "cells.csv", "--name", "cells", "--label", "group")
    assert r.code == 0, r.err
    return "cells"


def test_train_vime_from_the_command_line(cli, home, labelled):
    r = cli("train", "vime", "-d", labelled, "--epochs", "self=2,semi=8", "--label-fraction", "0.3", *FAST, "--json")
    assert r.code == 0, r.err
    run = r.json()
    assert run["result"]["stages"]["semi"]["test/accuracy"] > 0.8
    adata = Workspace(home).load(labelled)
    assert adata.obsm["X_vime"].shape == (900, 8) and "vime_prediction" in adata.obs


@pytest.mark.parametrize("args, message", [
    (["--p-m", "0"], "--p-m must be between 0 and 1"),
    (["--label-fraction", "-0.1"], "--label-fraction must be between 0 and 1"),
    (["--epochs", "semi=0"], "--epochs must be at least 1 for stage 'semi'"),
])
def test_bad_vime_settings_exit_2_and_leave_no_run(cli, home, labelled, args, message):
    before = snapshot(home)
    r = cli("train", "vime", "-d", labelled, *args)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and message in r.err, r.err
    assert snapshot(home) == before
