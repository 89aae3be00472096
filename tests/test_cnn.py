"""``cellwak train cnn`` (models/cnn.py, models/_cnn_archs.py): torchvision-compatible backbones,
local weights, labels and their F1, training that learns, resume after SIGKILL, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import snapshot
from test_dino import Cells
from test_runs import FAST, detach_and_kill_after_first_checkpoint, same_weights, weights

from cellwak.datasets.synthetic import cell_crops
from cellwak.errors import InputError
from cellwak.metrics.multilabel import held_out_f1
from cellwak.models import create_task
from cellwak.models._cnn_archs import build
from cellwak.models.cnn import load_weights, targets_of
from cellwak.models.transforms import dihedral
from cellwak.train import TrainConfig, fit

SHAPES = json.loads((Path(__file__).parent / "data" / "torchvision_state_shapes.json").read_text())


@pytest.mark.parametrize("arch", ["resnet18", "efficientnet_b0"])
def test_backbones_have_torchvisions_state_dict_keys_and_shapes(arch):
    model = build(arch, 3, 7)
    mine = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert mine == list(SHAPES[arch].items())
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    assert model.embed(x).shape == (2, model.dim) and model(x).shape == (2, 7)


def test_a_torchvision_file_loads_with_a_fresh_head_and_adapted_channels(tmp_path):
    torch.manual_seed(0)
    source = build("resnet18", 3, 1000)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    target = build("resnet18", 1, 5)  # grey crops, 5 classes
    head_before = target.fc.weight.clone()
    digest = load_weights(target, str(path))
    assert len(digest) == 64
    assert torch.equal(target.layer3[1].conv2.weight, source.layer3[1].conv2.weight)
    assert torch.allclose(target.conv1.weight, source.conv1.weight.sum(1, keepdim=True), atol=1e-6)
    assert torch.equal(target.fc.weight, head_before)  # 1000 -> 5 classes: head untouched


def test_bad_weights_files_are_refused_with_one_line(tmp_path):
    other = tmp_path / "small.pt"
    torch.save(build("small", 3, 4).state_dict(), other)
    with pytest.raises(InputError, match="does not fit --arch"):
        load_weights(build("resnet18", 3, 4), str(other))
    with pytest.raises(InputError, match="no such file"):
        load_weights(build("small", 3, 4), str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(InputError, match="cannot be read as PyTorch weights"):
        load_weights(build("small", 3, 4), str(junk))
    partial = tmp_path / "partial.pt"
    torch.save({k: v for k, v in build("small", 3, 4).state_dict().items() if "trunk.body.0" not in k}, partial)
    with pytest.raises(InputError, match="lacks"):
        load_weights(build("small", 3, 4), str(partial))


def test_targets_single_and_multi_label_and_unlabelled_cells():
    labelled, y, names, multi = targets_of(np.array(["b", "a", None, "b"] * 5, dtype=object), "")
    assert names == ["a", "b"] and not multi and list(labelled[:3]) == [0, 1, 3]
    assert y[:4].tolist() == [1, 0, 0, 1]
    labelled, Y, names, multi = targets_of(np.array(["a;c", "b", "", "c"] * 5, dtype=object), ";")
    assert multi and names == ["a", "b", "c"] and len(labelled) == 20  # no label: negative for all
    assert Y[2].tolist() == [0, 0, 0]
    assert Y[0].tolist() == [1, 0, 1] and Y[3].tolist() == [0, 0, 1]
    with pytest.raises(InputError, match="at least 2"):
        targets_of(np.array(["a"] * 20, dtype=object), "")


def test_held_out_f1_natural_and_balanced():
    Y = np.zeros((100, 2), bool)
    Y[:10, 0] = True  # rare label
    Y[10:, 1] = True
    P = Y.copy()
    P[10:30, 0] = True  # 20 false positives of the rare label
    scores = held_out_f1(Y, P, seed=0)
    assert scores["per_label"][0] == pytest.approx(2 * 10 / (20 + 20))  # natural: 0.5
    assert scores["per_label"][1] == 1.0
    # balanced: 10 positives + 10 random negatives; fewer false positives survive, so it is higher
    assert scores["per_label_balanced"][0] > scores["per_label"][0]
    assert scores["f1_macro"] == pytest.approx(np.mean(scores["per_label"]))


def test_dihedral_views_are_exact_turns_and_flips():
    torch.manual_seed(0)
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    out = dihedral(x.repeat(50, 1, 1, 1))
    for i in range(len(out)):
        src = x[i % 2]
        views = [torch.rot90(src, k, (1, 2)) for k in range(4)]
        views += [torch.flip(v, (2,)) for v in views]
        assert any(torch.equal(out[i], v) for v in views)
    assert len({tuple(o.flatten().tolist()) for o in out[::2]}) > 4  # several different views drawn


@pytest.fixture(scope="module")
def crops():
    data = cell_crops(240, 28, seed=0)
    return np.asarray(data.obsm["images"], dtype=np.float32), data.obs["phenotype"].astype(str).to_numpy()


def test_the_classifier_learns_the_phenotypes_and_writes_features(crops):
    images, labels = crops
    values = labels.astype(object)
    values[:12] = None  # unlabelled cells: no loss, but features
    torch.manual_seed(0)
    task = create_task("cnn", images, cells=Cells(values), width=8)
    out = fit(task, TrainConfig(epochs=8, batch_size=32, seed=0, threads=1, test_size=0.25))
    final = out.stages["fit"]
    assert final["test/f1_macro"] > 0.8, final  # 3 balanced phenotypes: chance is ~0.33
    assert 0 <= final["test/f1_balanced"] <= 1
    written = task.outputs(task.data)
    assert written["obsm/X_cnn"].shape == (240, 32) and written["obsm/cnn_proba"].shape == (240, 3)
    assert set(written["obs/cnn_predicted"]) <= set(labels)
    uns = written["uns/cnn"]
    assert list(uns["labels"]) == sorted(set(labels)) and len(uns["heldout_f1"]) == 3
    assert uns["heldout_macro_f1"] == pytest.approx(final["test/f1_macro"])
    assert task.config["labelled_cells"] == 228


def test_multi_label_training_predicts_label_sets(crops):
    images, labels = crops
    values = np.array([f"{p};any" if p != labels[0] else p for p in labels], dtype=object)
    torch.manual_seed(0)
    task = create_task("cnn", images, cells=Cells(values), sep=";", width=8)
    out = fit(task, TrainConfig(epochs=6, batch_size=32, seed=0, threads=1, test_size=0.25))
    assert task.model.multi and task.names[0] == "any"
    assert out.stages["fit"]["test/f1_macro"] > 0.7
    predicted = task.outputs(task.data)["obs/cnn_predicted"]
    assert any(";" in p for p in predicted)


def test_cnn_refusals_from_the_cli_leave_the_workspace_unchanged(cli, home, tmp_path, crops):
    images, labels = crops
    np.savez(tmp_path / "crops.npz", images=images[:60])
    assert cli("data", "add", tmp_path / "crops.npz", "--name", "crops").code == 0
    np.save(tmp_path / "t.npy", np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    assert cli("data", "add", tmp_path / "t.npy", "--name", "table").code == 0
    before = snapshot(home)
    cases = [
        (["-d", "crops"], "no label column"),
        (["-d", "crops", "--label", "nope"], "no obs column 'nope'"),
        (["-d", "crops", "--arch", "vgg"], "vgg"),
        (["-d", "crops", "--size", "8"], "--size must be"),
        (["-d", "crops", "--weights", str(tmp_path / "none.pt")], "no such file"),
        (["-d", "table", "--arch", "resnet18"], "--arch resnet18 is for images and this training data is a table"),
        (["-d", "crops", "--arch", "mlp"], "--arch mlp is for tables"),
    ]
    for args, message in cases:
        r = cli("train", "cnn", *args)
        assert r.code == 2, (args, r.err)
        assert message in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert snapshot(home) == before


def test_on_a_table_the_classifier_is_an_mlp_and_learns_multi_label_axes():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 2, (4, 20))
    group = rng.integers(0, 4, 600)
    X = (centres[group] + rng.normal(0, 1, (600, 20))).astype(np.float32)
    axes = {0: "", 1: "migration", 2: "division", 3: "migration;division"}
    values = np.array([axes[g] or None for g in group], dtype=object)
    torch.manual_seed(0)
    task = create_task("cnn", X, cells=Cells(values), sep=";")
    assert task.config["arch"] == "mlp" and task.names == ["division", "migration"]
    out = fit(task, TrainConfig(epochs=10, batch_size=64, seed=0, threads=1, test_size=0.25))
    assert out.stages["fit"]["test/f1_macro"] > 0.9
    assert task.outputs(task.data)["obsm/X_cnn"].shape == (600, 256)


@pytest.mark.slow  # ~20 s: a detached run killed after its first checkpoint and resumed
def test_sigkill_then_resume_gives_the_uninterrupted_cnn_weights(cli, home, tmp_path, crops):
    images, labels = crops
    np.savez(tmp_path / "crops.npz", images=images[:120], labels=labels[:120].astype(str))
    assert cli("data", "add", tmp_path / "crops.npz", "--name", "crops").code == 0
    args = ["train", "cnn", "-d", "crops", "--width", "4", "--epochs", "15", "--batch-size", "16",
            "--checkpoint-every", "1", *FAST]
    reference = cli(*args, "--json")
    assert reference.code == 0, reference.err
    run_id = detach_and_kill_after_first_checkpoint(cli, home, args)
    resumed = cli("runs", "resume", str(run_id), "--json")
    assert resumed.code == 0, resumed.err
    assert resumed.json()["attempt"] == 2
    assert same_weights(weights(home, run_id), weights(home, reference.json()["run_id"]))
    shown = cli("data", "show", "crops", "--json").json()
    assert "X_cnn" in json.dumps(shown)
