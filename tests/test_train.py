"""The training loop (cellwak.train): optimiser, loss going down, checkpoints, exact resume,
NaN, stop requests, early stopping, settings that cannot work, batch order under DDP."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from cellwak.errors import ConflictError, InputError
from cellwak.models import create_task
from cellwak.train import Diverged, MemoryRecorder, Recorder, Stage, Task, TrainConfig, fit, plan
from cellwak.train import checkpoint as ckpt
from cellwak.train.batches import epoch_batches, split, steps_per_epoch
from cellwak.train.optim import AdamReset


def blobs(n=240, m=12, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, m))
    X = centers[rng.integers(0, 3, n)] + rng.normal(0, 0.5, (n, m))
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


def ae_task(seed=0, **config):
    torch.manual_seed(seed)
    return create_task("ae", blobs(), **config)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class TwoStage(Task):
    """Encoder and decoder trained in turn (the other frozen), with dropout drawing from the
    global RNG: resume must restore stage, optimiser and random state exactly."""

    name = "two-stage"

    def __init__(self, data, seed=0):
        torch.manual_seed(seed)
        self.data = torch.as_tensor(data)
        self.config = {}
        m = self.data.shape[1]

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Sequential(nn.Linear(m, 6), nn.Tanh(), nn.Dropout(0.2))
                self.dec = nn.Linear(6, m)

            def forward(self, batch, stage):
                return ((self.dec(self.enc(batch)) - batch) ** 2).mean()

        self.model = Net()

    def stages(self):
        return [Stage("enc", 3, self.model.enc.parameters), Stage("dec", 3, self.model.dec.parameters)]


# -- optimiser ----------------------------------------------------------------------------------

def test_adam_reset_is_sign_sgd_with_unscaled_decay():
    """p <- p - lr * g / (|g| + eps) - weight_decay * p, at every step (no moments carried)."""
    torch.manual_seed(0)
    p = nn.Parameter(torch.randn(50))
    lr, wd, eps = 1e-2, 1e-3, 1e-8
    opt = AdamReset([p], lr=lr, weight_decay=wd, eps=eps)
    for _ in range(3):
        g = torch.randn(50) * torch.logspace(-6, 2, 50)
        before = p.detach().clone()
        p.grad = g.clone()
        opt.step()
        b64, g64 = before.double(), g.double()
        expected = b64 - lr * g64 / (g64.abs() + eps) - wd * b64
        assert torch.allclose(p.detach().double(), expected, rtol=0, atol=1e-6)
        assert not opt.state  # nothing accumulates
    # the same as torch's Adam re-created every step, plus decay not multiplied by lr
    q = nn.Parameter(before.clone())
    q.grad = g.clone()
    adam = torch.optim.Adam([q], lr=lr, eps=eps)
    adam.step()
    adam_then_decay = q.detach() - wd * before
    r = nn.Parameter(before.clone())
    r.grad = g.clone()
    AdamReset([r], lr=lr, weight_decay=wd, eps=eps).step()
    assert torch.allclose(r.detach(), adam_then_decay, atol=1e-6)


# -- learning -----------------------------------------------------------------------------------

def test_loss_decreases_and_checkpoints_load_with_weights_only(tmp_path):
    task = ae_task()
    rec = MemoryRecorder()
    result = fit(task, TrainConfig(epochs=25, batch_size=32, lr=3e-3, checkpoint_every=10, threads=1), rec,
                 checkpoint_dir=tmp_path)
    assert result.status == "done" and result.step == 25 * steps_per_epoch(216, 32)
    first, last = rec.epochs[0][3], rec.epochs[-1][3]
    assert last["test/loss"] < 0.5 * first["test/loss"]
    assert last["train/loss"] < 0.5 * first["train/loss"]
    assert [c[3] for c in rec.checkpoints] == [10 * 7, 20 * 7, 25 * 7]
    assert len(ckpt.checkpoints(tmp_path)) == 2  # keep_checkpoints
    state = torch.load(result.checkpoint, weights_only=True)
    assert state["position"] == {"stage_index": 0, "stage": "fit", "stage_done": True, "epoch": 25, "batch": 0,
                                 "step": 175}
    assert states_equal(state["model"], task.model.state_dict())
    assert set(state["rng"]) == {"torch", "numpy", "python", "cuda"}
    assert rec.info["n_train"] == 216 and rec.info["n_test"] == 24 and rec.info["threads"] == 1


def test_rng_state_round_trip():
    import random

    state = ckpt.rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


# -- exact resume -------------------------------------------------------------------------------

class StopAfter(Recorder):
    def __init__(self, event, step):
        self.event, self.at = event, step

    def step(self, stage, epoch, step, metrics):
        if step == self.at:
            self.event.set()


@pytest.mark.parametrize("optimizer", ["adamw", "adam-reset"])
def test_resume_after_stop_equals_uninterrupted_run(tmp_path, optimizer):
    data = blobs()
    cfg = dict(batch_size=32, lr=1e-2, optimizer=optimizer, weight_decay=1e-3, checkpoint_every=2, threads=1)
    full = TwoStage(data)
    reference = fit(full, TrainConfig(**cfg))
    assert reference.status == "done" and reference.step == 6 * 7

    # stopped in the middle of an epoch of the first stage (7-step epochs): a request made after
    # step 9 is seen during step 10, which finishes
    stop = threading.Event()
    first = TwoStage(data)
    out = fit(first, TrainConfig(**cfg), StopAfter(stop, 9), checkpoint_dir=tmp_path / "a", stop=stop)
    assert out.status == "cancelled" and out.step == 10
    position = torch.load(out.checkpoint, weights_only=True)["position"]
    assert (position["stage"], position["epoch"], position["batch"]) == ("enc", 1, 3)
    second = TwoStage(data, seed=123)  # different initial weights: everything must come from the checkpoint
    done = fit(second, TrainConfig(**cfg), checkpoint_dir=tmp_path / "a", resume_from=out.checkpoint)
    assert done.status == "done" and done.step == reference.step
    assert states_equal(second.model.state_dict(), full.model.state_dict())

    # resumed from the end of the first stage (a new optimiser, the frozen encoder kept)
    stop = threading.Event()
    third = TwoStage(data)
    fit(third, TrainConfig(**cfg), StopAfter(stop, 22), checkpoint_dir=tmp_path / "b", stop=stop)
    boundary = [p for p in ckpt.checkpoints(tmp_path / "b") if p.name == ckpt.file_name(21)]
    assert boundary and torch.load(boundary[0], weights_only=True)["position"]["stage_done"]
    fourth = TwoStage(data, seed=7)
    fit(fourth, TrainConfig(**cfg), resume_from=boundary[0])
    assert states_equal(fourth.model.state_dict(), full.model.state_dict())


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    out = fit(ae_task(), TrainConfig(epochs=1, batch_size=32, threads=1), checkpoint_dir=tmp_path)
    with pytest.raises(ConflictError, match="batch_size"):
        fit(ae_task(), TrainConfig(epochs=2, batch_size=16, threads=1), resume_from=out.checkpoint)


# -- failure, stop, early stopping ----------------------------------------------------------------

class LogLoss(Task):
    """loss = log(w): sign steps of lr 2 take w from 1 to -1, so the second loss is NaN."""

    name = "log"

    def __init__(self):
        self.data = torch.ones(40, 2)
        self.config = {}

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.ones(()))

            def forward(self, batch, stage):
                return torch.log(self.w) + 0 * batch.mean()

        self.model = Net()

    def stages(self):
        return [Stage("fit", 5, self.model.parameters)]


def test_nan_loss_stops_with_a_clear_reason(tmp_path):
    task = LogLoss()
    with pytest.raises(Diverged) as err:
        fit(task, TrainConfig(lr=2.0, optimizer="adam-reset", batch_size=18, test_size=4), checkpoint_dir=tmp_path)
    assert str(err.value) == "loss became NaN at stage fit, epoch 1, step 2; lower --lr (now 2)"
    assert err.value.exit_code == 1
    assert task.model.w.item() == pytest.approx(-1.0)  # the NaN step was not taken


def test_early_stopping_ends_the_stage_with_a_checkpoint(tmp_path):
    rec = MemoryRecorder()
    out = fit(ae_task(), TrainConfig(epochs=50, batch_size=64, patience=2, min_delta=1e9, checkpoint_every=0, threads=1),
              rec, checkpoint_dir=tmp_path)
    assert out.stages["fit"]["stopped_early"] and out.stages["fit"]["epochs"] == 3
    assert len(rec.epochs) == 3 and len(rec.checkpoints) == 1
    assert any("early stopping" in m for m in rec.messages)


def test_step_metrics_and_per_step_test_loss():
    rec = MemoryRecorder()
    fit(ae_task(), TrainConfig(epochs=2, batch_size=64, log_every=2, test_every_step=True, threads=1), rec)
    steps = [s[2] for s in rec.steps]
    assert steps == [2, 4, 6, 8]
    assert all({"train/loss", "test/loss", "lr"} <= set(s[3]) for s in rec.steps)


# -- settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "--epochs must be at least 1"),
    ({"batch_size": 0}, "--batch-size must be at least 1"),
    ({"batch_size": 217}, "larger than the 216 training cells"),
    ({"lr": 0.0}, "--lr must be a finite number greater than 0"),
    ({"weight_decay": -1.0}, "--weight-decay"),
    ({"optimizer": "sgd"}, "unknown --optimizer"),
    ({"device": "tpu"}, "unknown --device"),
    ({"test_size": 240}, "leaving none to train on"),
    ({"test_size": 0, "patience": 3}, "needs held-out cells"),
    ({"patience": 0}, "--patience must be at least 1"),
    ({"epochs": {"nope": 3}}, "names no stage 'nope'"),
    ({"nproc": 0}, "--nproc must be at least 1"),
])
def test_settings_that_cannot_work_are_refused(values, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        plan(ae_task(), TrainConfig(**values))


def test_cuda_refused_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match="CUDA is not available"):
        plan(ae_task(), TrainConfig(device="cuda"))


# -- split and batches ----------------------------------------------------------------------------

def test_split_and_batch_order_are_functions_of_the_seed():
    train, test = split(100, 10, seed=3)
    assert len(test) == 10 and sorted(torch.cat([train, test]).tolist()) == list(range(100))
    assert torch.equal(split(100, 10, seed=3)[1], test) and not torch.equal(split(100, 10, seed=4)[1], test)
    a = epoch_batches(90, 16, seed=0, stage=0, epoch=3)
    assert [len(b) for b in a] == [16] * 5 + [10]  # the partial last batch is kept
    assert all(torch.equal(x, y) for x, y in zip(a, epoch_batches(90, 16, seed=0, stage=0, epoch=3)))
    assert not torch.equal(a[0], epoch_batches(90, 16, seed=0, stage=0, epoch=4)[0])


def test_ddp_shards_are_the_single_process_batches_split_by_rank():
    single = epoch_batches(96, 32, seed=1, stage=0, epoch=2)  # batch 32 on one process ...
    ranks = [epoch_batches(96, 16, seed=1, stage=0, epoch=2, rank=r, world=2) for r in range(2)]  # ... 16 x 2
    assert len(ranks[0]) == len(ranks[1]) == len(single) == steps_per_epoch(96, 16, 2)
    for s, r0, r1 in zip(single, *ranks):
        assert torch.equal(torch.cat([r0, r1]), s)
    uneven = [epoch_batches(37, 8, seed=0, stage=0, epoch=1, rank=r, world=2) for r in range(2)]
    assert [len(b) for b in uneven[0]] == [len(b) for b in uneven[1]] == [8, 8, 2]


@pytest.mark.gpu
def test_cuda_with_bf16_autocast(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    task = ae_task()
    rec = MemoryRecorder()
    out = fit(task, TrainConfig(epochs=10, batch_size=32, lr=3e-3, device="cuda"), rec, checkpoint_dir=tmp_path)
    assert rec.info["device"].startswith("cuda") and rec.info["amp"] == "bf16"
    assert rec.epochs[-1][3]["test/loss"] < rec.epochs[0][3]["test/loss"]
    state = torch.load(out.checkpoint, weights_only=True)
    assert next(iter(state["model"].values())).dtype == torch.float32  # autocast keeps float32 weights
    assert np.isfinite(task.outputs(task.data)["obsm/X_ae"]).all()
