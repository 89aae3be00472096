"""ME-VAE and the VAE baseline (models/mevae.py): shapes, training, the faithful and clean KL,
the nuisance metric, and bad settings / wrong data kinds refused from the command line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import snapshot
from test_runs import FAST

from cellwak.datasets.synthetic import cell_crops
from cellwak.errors import InputError
from cellwak.metrics import nuisance_correlation
from cellwak.models import create_task
from cellwak.models.mevae import kl
from cellwak.pp.transforms import principal_angle
from cellwak.train import MemoryRecorder, TrainConfig, fit


@pytest.fixture(scope="module")
def crops():
    return np.asarray(cell_crops(160, 28, seed=0).obsm["images"], dtype=np.float32)


def test_mevae_trains_on_canonical_targets_and_exports_features(crops):
    torch.manual_seed(0)
    task = create_task("mevae", crops, dim=6)
    assert task.data.shape == (160, 2, 32, 32)  # resized to a multiple of 8
    assert np.allclose(np.abs(principal_angle(task.data[:20]).numpy()), np.pi / 2, atol=0.1)  # targets aligned
    rec = MemoryRecorder()
    fit(task, TrainConfig(epochs=4, batch_size=32, seed=0), rec)
    losses = [m["train/loss"] for _, _, _, m in rec.epochs]
    assert losses[-1] < losses[0]
    feats = task.outputs(task.data)["obsm/X_mevae"]
    assert feats.shape == (160, 6) and np.isfinite(feats).all()
    assert np.array_equal(feats, task.outputs(task.data)["obsm/X_mevae"])  # means: deterministic


@pytest.mark.parametrize("combine, width", [("product", 6), ("mean", 6), ("concat", 12)])
def test_code_combinations(crops, combine, width):
    task = create_task("mevae", crops[:16], dim=6, combine=combine)
    assert task.model.decoder.dense[0].in_features == width
    assert task.outputs(task.data)["obsm/X_mevae"].shape == (16, width)


def test_faithful_kl_reads_log_sigma_and_clean_log_variance():
    mu, l = torch.zeros(1, 3), torch.full((1, 3), 0.5)
    assert torch.allclose(kl(mu, l, True), -0.5 * (1 + 1.0 - np.exp(1.0)) * torch.ones(1) * 3)
    assert torch.allclose(kl(mu, l, False), -0.5 * (1 + 0.5 - np.exp(0.5)) * torch.ones(1) * 3)
    assert torch.equal(kl(torch.zeros(1, 2), torch.zeros(1, 2), False), torch.zeros(1))


def test_vae_baseline_reconstructs_the_crop_itself(crops):
    task = create_task("vae", crops, dim=5, beta=4.0)
    assert torch.equal(task.data, task.crops)
    fit(task, TrainConfig(epochs=1, batch_size=32, seed=0))
    assert task.outputs(task.data)["obsm/X_vae"].shape == (160, 5)


def test_nuisance_correlation():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 6, 500)
    F = np.stack([angle * 2 + rng.normal(0, 0.1, 500), rng.normal(size=500), np.ones(500)], axis=1)
    r = nuisance_correlation(F, angle)
    assert r["max_abs_r"] > 0.99 and 0.3 < r["mean_abs_r"] < 0.6  # the constant column is left out


@pytest.mark.parametrize("model, settings, message", [
    ("mevae", {"encoders": 1}, "--encoders must be at least 2"),
    ("mevae", {"combine": "sum"}, "unknown --combine 'sum'"),
    ("mevae", {"loss": "mse"}, "unknown --loss 'mse'"),
    ("mevae", {"dim": 0}, "--dim must be at least 1"),
    ("vae", {"beta": -1}, "--beta must be 0 or more"),
])
def test_settings_that_cannot_work(crops, model, settings, message):
    with pytest.raises(InputError, match=message):
        create_task(model, crops[:8], **settings)


def test_train_mevae_on_the_builtin_crops_and_refuse_a_table(cli, home, tmp_path):
    r = cli("train", "mevae", "--dim", "4", "--epochs", "1", "--batch-size", "128", *FAST, "--json")
    assert r.code == 0, r.err
    assert r.json()["result"]["outputs"] == ["obsm/X_mevae"]
    np.save(tmp_path / "t.npy", np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    assert cli("data", "add", tmp_path / "t.npy", "--name", "table").code == 0
    before = snapshot(home)
    r = cli("train", "mevae", "-d", "table")
    assert r.code == 2 and "trains on images and this dataset is a table" in r.err
    assert snapshot(home) == before
