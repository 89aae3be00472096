"""DINO with CDCL (models/dino.py): views, the cross-batch partner sampler, centering, the
Barlow term, training through the one loop, and bad settings / wrong data refused from the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import snapshot
from test_runs import FAST

from cellwak.datasets.synthetic import cell_crops
from cellwak.errors import InputError
from cellwak.models import create_task
from cellwak.models._dino_views import PartnerSampler, cross_batch_neighbours, random_crops
from cellwak.models.dino import _redundancy
from cellwak.train import MemoryRecorder, TrainConfig, fit


class Cells:
    """Per-cell metadata as cellwak.runs.request.CellMeta gives it."""

    def __init__(self, labels=None, batches=None):
        self._labels, self._batches = labels, batches

    def labels(self):
        return self._labels

    def batches(self):
        return self._batches

    def column(self, name):
        raise InputError(f"no obs column {name!r} in this dataset")


@pytest.fixture(scope="module")
def crops():
    data = cell_crops(96, 28, seed=0)
    return np.asarray(data.obsm["images"], dtype=np.float32), data.obs["phenotype"].astype(str).to_numpy()


def test_condition_partners_share_the_condition_and_come_from_another_batch():
    rng = np.random.default_rng(0)
    batches = rng.integers(0, 3, 300).astype(str)
    conditions = rng.choice(["a", "b", "c", "d"], 300).astype(object)
    conditions[:10] = None  # no condition: the cell pairs with itself
    conditions[10:14] = "lonely"  # one condition in one batch only: falls back to the same batch
    batches[10:14] = "0"
    sampler = PartnerSampler("condition", batches=batches, conditions=conditions)
    index = torch.arange(300).repeat(20)
    partner = sampler(index).numpy()
    i = index.numpy()
    normal = i >= 14
    assert (conditions[partner[normal]] == conditions[i[normal]]).all()
    assert (batches[partner[normal]] != batches[i[normal]]).all()
    assert (partner[i < 10] == i[i < 10]).all()
    lonely = (i >= 10) & (i < 14)
    assert set(partner[lonely]) <= set(range(10, 14)) and len(set(partner[lonely])) == 4
    # uniform over the admissible cells: every admissible partner of cell 20 is drawn
    admissible = np.flatnonzero((conditions == conditions[20]) & (batches != batches[20]))
    drawn = sampler(torch.full((4000,), 20)).numpy()
    assert set(drawn) == set(admissible)


def test_neighbour_partners_come_from_other_batches():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(60, 1, 4, 4)).astype(np.float32)
    images = np.concatenate([base, base * 2 + 5])  # batch 1 = batch 0 under a gain and an offset
    batches = np.array(["x"] * 60 + ["y"] * 60)
    nn = cross_batch_neighbours(images, batches, k=3)
    assert nn.shape == (120, 3)
    assert (batches[nn] != batches[:, None]).all()
    # after per-batch standardisation the same cell is its own nearest cross-batch neighbour
    assert (nn[:60, 0] == np.arange(60, 120)).all() and (nn[60:, 0] == np.arange(60)).all()


def test_views_have_the_requested_size_and_keep_a_uniform_background():
    torch.manual_seed(0)
    flat = torch.full((8, 3, 28, 28), 0.7)
    v = random_crops(flat, 14, (0.2, 0.5), jitter=0.0)
    assert v.shape == (8, 3, 14, 14)
    assert torch.allclose(v, torch.full_like(v, 0.7), atol=1e-5)  # border padding, no black corners
    j = random_crops(flat, 28, (1.0, 1.0), jitter=1.0)
    assert not torch.allclose(j, flat)  # intensity jitter applied


def test_redundancy_term_is_zero_for_decorrelated_identical_logits():
    z = torch.linalg.qr(torch.randn(64, 8))[0] * math.sqrt(64)  # orthogonal columns
    z = z - z.mean(0)
    assert float(_redundancy(z, z)) < 0.05
    assert float(_redundancy(z, torch.randn(64, 8))) > float(_redundancy(z, z))


@pytest.mark.parametrize("settings", [
    {},
    {"pairs": "condition", "centering": "domain", "barlow_weight": 0.75, "normalise": "batch"},
    {"pairs": "neighbours", "centering": "domain", "barlow_weight": 0.5, "backbone": "vit", "width": 8},
])
def test_dino_and_cdcl_train_and_export_teacher_features(crops, settings):
    images, labels = crops
    batches = np.array(["p1", "p2"] * 48)
    torch.manual_seed(0)
    task = create_task("dino", images, cells=Cells(labels.astype(object), batches), prototypes=64, hidden=32,
                       bottleneck=16, **settings)
    rec = MemoryRecorder()
    fit(task, TrainConfig(epochs=2, batch_size=32, seed=0), rec)
    losses = [m["train/loss"] for _, _, _, m in rec.epochs]
    assert all(np.isfinite(losses))
    model = task.model
    assert int(model.steps_done) == 2 * 3  # 86 training cells / 32 per step
    assert model.center.shape[0] == (2 if settings.get("centering") == "domain" else 1)
    assert model.center.abs().sum() > 0  # the centres moved
    student = dict(model.student.named_parameters())
    assert any(not torch.equal(p, student[n]) for n, p in model.teacher.named_parameters())  # EMA, not a copy
    feats = task.outputs(task.data)["obsm/X_dino"]
    assert feats.shape == (96, model.teacher.backbone.out_dim) and np.isfinite(feats).all()


def test_teacher_schedules():
    images = np.random.default_rng(0).random((16, 1, 16, 16), dtype=np.float32)
    model = create_task("dino", images, prototypes=8, hidden=8, bottleneck=4, momentum=0.99).model
    model.total_steps = 100
    assert model.teacher_temp() == pytest.approx(0.04) and model.momentum() == pytest.approx(0.99)
    model.steps_done.fill_(5)
    assert model.teacher_temp() == pytest.approx(0.055)
    model.steps_done.fill_(100)
    assert model.teacher_temp() == pytest.approx(0.07) and model.momentum() == pytest.approx(1.0)


@pytest.mark.parametrize("settings, message", [
    ({"pairs": "batch"}, "unknown --pairs 'batch'"),
    ({"centering": "plate"}, "unknown --centering 'plate'"),
    ({"barlow_weight": 1.0}, r"--barlow-weight must be in \[0, 1\)"),
    ({"backbone": "resnet"}, "unknown --backbone 'resnet'"),
    ({"prototypes": 1}, "--prototypes must be at least 2"),
    ({"global_scale": 0}, r"--global-scale must be in \(0, 1\]"),
    ({"pairs": "condition"}, "this dataset has no batch column"),
])
def test_settings_that_cannot_work(crops, settings, message):
    with pytest.raises(InputError, match=message):
        create_task("dino", crops[0][:8], **settings)


def test_cdcl_from_the_cli_on_simulated_batches_and_bad_requests(cli, home, tmp_path):
    assert cli("data", "simulate-batches", "blood", "--into", "mb", "--batches", "3").code == 0
    r = cli("train", "dino", "-d", "mb", "--cdcl", "--epochs", "1", "--batch-size", "256", "--prototypes", "64",
            "--width", "8", *FAST, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["result"]["outputs"] == ["obsm/X_dino"]
    assert out["params"]["model"]["pairs"] == "condition" and out["params"]["model"]["barlow_weight"] == 0.75
    before = snapshot(home)
    r = cli("train", "dino", "-d", "blood", "--cdcl")  # one batch only: nothing to pair across
    assert r.code == 2 and "no batch column" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("train", "dino", "-d", "mb", "--cdcl", "--condition", "plate")
    assert r.code == 2 and "no obs column 'plate'" in r.err
    np.save(tmp_path / "t.npy", np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    assert cli("data", "add", tmp_path / "t.npy", "--name", "table").code == 0
    before = snapshot(home)
    r = cli("train", "dino", "-d", "table")
    assert r.code == 2 and "trains on images and this dataset is a table" in r.err
    assert snapshot(home) == before


def test_stopped_cdcl_run_resumes_to_the_uninterrupted_weights(crops, tmp_path):
    """Teacher, per-batch centres, the step counter (schedules) and the random views and
    partners all come back from the checkpoint."""
    import threading

    from test_train import StopAfter, states_equal

    images, labels = crops
    cells = Cells(labels.astype(object), np.array(["p1", "p2"] * 48))
    settings = dict(cells=cells, prototypes=32, hidden=16, bottleneck=8, width=4, pairs="condition",
                    centering="domain", barlow_weight=0.5)
    cfg = dict(epochs=2, batch_size=32, seed=0, threads=1, checkpoint_every=1)
    torch.manual_seed(0)
    full = create_task("dino", images, **settings)
    fit(full, TrainConfig(**cfg))
    stop = threading.Event()
    torch.manual_seed(0)
    first = create_task("dino", images, **settings)
    out = fit(first, TrainConfig(**cfg), StopAfter(stop, 2), checkpoint_dir=tmp_path, stop=stop)
    assert out.status == "cancelled"
    torch.manual_seed(5)
    second = create_task("dino", images, **settings)
    fit(second, TrainConfig(**cfg), checkpoint_dir=tmp_path, resume_from=out.checkpoint)
    assert int(second.model.steps_done) == int(full.model.steps_done) == 6
    assert states_equal(second.model.state_dict(), full.model.state_dict())
