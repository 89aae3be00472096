"""The DeePWAK network (models/deepwak.py): the reference's shapes and parameter counts, kernel
invariants, J-invariance, frozen heads in the consensus stages, the published optimiser quirk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cellwak.errors import InputError
from cellwak.models import create_task
from cellwak.models._deepwak_layers import halving_widths, pwak, wak
from cellwak.models._deepwak_task import reference_test_size
from cellwak.graph.leiden import relabel_by_size
from cellwak.models.deepwak import DeePWAKHead, DeePWAKV1, DeePWAKV2, prepare
from cellwak.train import MemoryRecorder, Recorder, TrainConfig, fit
from cellwak.train.optim import AdamReset


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def table(n=200, m=10, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, m))
    return (centers[rng.integers(0, 3, n)] + rng.normal(0, 0.5, (n, m))).astype(np.float32)


def test_head_matches_the_reference_sizes():
    """114 features: encoder 114-58-29-14 (8,801), decoder (8,901), mlp4x partitioner (684,014)."""
    assert halving_widths(114, 14) == [114, 58, 29, 14]
    head = DeePWAKHead(114, 14, 14)
    assert (n_params(head.encoder), n_params(head.decoder), n_params(head.partitioner)) == (8801, 8901, 684014)
    model = DeePWAKV2(114, heads=5)
    assert n_params(model.consensus_partitioner) == 70 * 280 + 280 + 3 * (280 * 280 + 280) + 280 * 14 + 14
    assert n_params(model.consensus_encoder) == 70 * 35 + 35 + 35 * 14 + 14
    assert reference_test_size(1831) == 256


def test_xavier_uniform_weights_and_zero_biases():
    torch.manual_seed(0)
    head = DeePWAKHead(40, 6, 5)
    first = head.encoder[0]
    bound = (6 / (first.in_features + first.out_features)) ** 0.5
    assert first.weight.abs().max() <= bound and first.weight.abs().max() > 0.8 * bound
    assert all(float(m.bias.detach().abs().max()) == 0 for m in head.modules() if isinstance(m, torch.nn.Linear))


@pytest.mark.parametrize("norm, dim", [("col", 0), ("row", 1)])
def test_wak_has_zero_diagonal_and_unit_sums(norm, dim):
    A = torch.rand(7, 7)
    W = wak(A, norm)
    assert torch.allclose(torch.diagonal(W), torch.zeros(7))
    assert torch.allclose(W.sum(dim=dim), torch.ones(7), atol=1e-5)


def test_pwak_of_a_hard_partition_is_the_normalised_block_matrix():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    C = torch.nn.functional.one_hot(labels, 3).float()
    same = (labels[:, None] == labels[None, :]).float() - torch.eye(6)
    for norm in ("col", "row"):
        W = pwak(C, norm)
        expected = same / same.sum(dim=1, keepdim=True).clamp_min(1)
        expected[5] = 0  # a singleton has no one to average over
        assert torch.allclose(W, expected, atol=1e-6)


def test_the_reconstruction_of_a_cell_ignores_its_own_value_when_the_kernel_is_fixed():
    """J-invariance (noise2self): with the partition fixed, cell i's output does not depend on x_i."""
    torch.manual_seed(0)
    head = DeePWAKHead(10, 4, 3)
    X = torch.randn(12, 10)
    C = head.partitioner(X).detach()
    Y = X.clone()
    Y[3] += 5.0
    assert torch.allclose(head(X, C=C)[3], head(Y, C=C)[3], atol=1e-6)


class Snapshots(Recorder):
    """The state of each module of a DeePWAK V2 model at the start of every stage."""

    def __init__(self, model):
        self.model, self.at = model, {}

    def stage(self, index, name, epochs, start_epoch):
        self.at[name] = self.now()

    def now(self):
        return {part: {k: v.clone() for k, v in getattr(self.model, part).state_dict().items()}
                for part in ("block", "consensus_partitioner", "consensus_encoder")}


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_each_stage_trains_only_its_own_module():
    torch.manual_seed(0)
    task = create_task("deepwak", table(), heads=2, dim=3, clusters=4)
    snaps = Snapshots(task.model)
    fit(task, TrainConfig(epochs=2, batch_size=64, seed=0), snaps)
    start, cp, ce, end = (snaps.at["block"], snaps.at["consensus_partitioner"], snaps.at["consensus_encoder"],
                          snaps.now())
    assert not same(start["block"], cp["block"]) and same(start["consensus_partitioner"], cp["consensus_partitioner"])
    assert same(cp["block"], ce["block"]) and not same(cp["consensus_partitioner"], ce["consensus_partitioner"])
    assert same(ce["block"], end["block"]) and same(ce["consensus_partitioner"], end["consensus_partitioner"])
    assert not same(ce["consensus_encoder"], end["consensus_encoder"])


def test_adam_reset_is_a_sign_step_plus_unscaled_decay():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    p.grad = torch.tensor([0.5, -4.0, 0.0])
    AdamReset([p], lr=0.1, weight_decay=0.01).step()
    expected = torch.tensor([1.0, -2.0, 3.0]) - 0.1 * torch.tensor([1.0, -1.0, 0.0]) - 0.01 * torch.tensor([1.0, -2.0, 3.0])
    assert torch.allclose(p.detach(), expected, atol=1e-6)


def test_training_lowers_the_test_loss_and_writes_every_output():
    torch.manual_seed(0)
    task = create_task("deepwak", table(400), heads=3, dim=3, clusters=5, wak_norm="col")
    X = task.data.numpy()
    mean_predictor = float(((X - X.mean(0)) ** 2).mean())
    recorder = MemoryRecorder()
    fit(task, TrainConfig(epochs={"block": 25, "consensus_partitioner": 1, "consensus_encoder": 1}, batch_size=64,
                          test_size=0.2, optimizer="adam-reset", weight_decay=1e-3, seed=0), recorder)
    block = [m["test/loss"] for stage, _, _, m in recorder.epochs if stage == "block"]
    assert len(block) == 25 and block[-1] < 0.7 * mean_predictor < block[0]
    out = task.outputs(task.data)
    assert out["obsm/X_deepwak"].shape == (400, 3) and out["obsm/deepwak_soft"].shape == (400, 5)
    assert out["obsm/X_deepwak_heads"].shape == (400, 9)
    assert np.allclose(out["obsm/deepwak_soft"].sum(1), 1, atol=1e-5)
    assert set(out) >= {"obs/deepwak_cluster", "obs/deepwak_head1", "obs/deepwak_head3"}
    sizes = np.bincount(out["obs/deepwak_cluster"])
    assert (np.diff(sizes) <= 0).all()  # clusters numbered by size


def test_v1_trains_with_its_regularised_loss():
    torch.manual_seed(0)
    task = create_task("deepwak", table(), variant="v1", dim=4, clusters=3)
    assert isinstance(task.model, DeePWAKV1) and [s.name for s in task.stages()] == ["block"]
    fit(task, TrainConfig(epochs=2, seed=0))
    out = task.outputs(task.data)
    assert out["obsm/X_deepwak"].shape == (200, 4) and "obs/deepwak_head2" not in out


def test_relabel_by_size_orders_clusters_largest_first():
    assert relabel_by_size(np.array([5, 5, 2, 5, 2, 9])).tolist() == [0, 0, 1, 0, 1, 2]


def test_sample_scaling_bounds_every_cell_and_drops_constant_features():
    X = table()
    X[:, 4] = 7.0
    Xs, kept = prepare(X, "sample")
    assert Xs.shape[1] == 9 and not kept[4]
    assert np.allclose(np.abs(Xs).max(axis=1), 1.0)


@pytest.mark.parametrize("settings, message", [
    ({"heads": 0}, "--heads must be at least 1"),
    ({"clusters": 1}, "--clusters must be at least 2"),
    ({"dim": 0}, "--dim must be at least 1"),
    ({"variant": "v3"}, "unknown --variant 'v3' for model 'deepwak'"),
    ({"pool": "max"}, "unknown --pool 'max' for model 'deepwak'"),
    ({"wak_norm": "sym"}, "unknown --wak-norm 'sym' for model 'deepwak'"),
    ({"scaling": "zscore"}, "unknown --scaling 'zscore'"),
])
def test_settings_that_cannot_work_are_refused(settings, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        create_task("deepwak", table(), **settings)


def test_a_table_of_constant_features_or_images_is_refused():
    with pytest.raises(InputError, match="every feature is constant"):
        create_task("deepwak", np.ones((50, 4), np.float32))
    with pytest.raises(InputError, match="cells x features"):
        create_task("deepwak", np.zeros((5, 1, 4, 4), np.float32))
