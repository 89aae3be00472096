"""The one training loop every cellwak model trains through.

    result = fit(task, config, recorder, checkpoint_dir=folder, resume_from=None, stop=event)

For each stage of ``task.stages()``: freeze every parameter the stage does not optimise, build
the optimiser (and the task's scheduler, if any), wrap the model in DDP when launched by
torchrun, then per epoch draw the minibatches (a function of seed, stage and epoch), take one
step per batch, evaluate the held-out cells, record the metrics, stop early when the test loss
has not improved for ``patience`` epochs, and checkpoint every ``checkpoint_every`` epochs and at
the end of the stage.

A non-finite loss raises :class:`Diverged` before the step that would spread it. A stop request
(``stop.is_set()``, set by SIGTERM/Ctrl-C handlers) lets the current step finish, writes a
checkpoint and returns ``status='cancelled'``. ``resume_from`` continues from a checkpoint
exactly: same weights, optimiser state, random states and batch order as the uninterrupted run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CellwakError, ConflictError
from ..provenance import seed_everything
from . import checkpoint as ckpt
from . import ddp
from .batches import epoch_batches, split, steps_per_epoch
from .config import TrainConfig, check, resolve_test_size
from .device import autocast, torch_device, uses_amp
from .optim import build_optimizer
from .recorder import NULL, Recorder
from .task import Task

# data up to this size is moved to the GPU once; larger data is moved batch by batch
_GPU_RESIDENT_BYTES = 2 * 1024**3


class Diverged(CellwakError):
    """The loss became NaN or infinite: the run stops as failed (exit status 1, not 2)."""

    exit_code = 1


@dataclass
class FitResult:
    status: str  # done | cancelled
    step: int  # optimiser steps taken in total (across resumes)
    stages: dict  # name -> {epochs, stopped_early, best_test_loss, last epoch's metrics}
    checkpoint: str | None  # the last checkpoint written
    seconds: float  # this attempt
    steps_per_second: float  # this attempt
    info: dict = field(default_factory=dict)


@dataclass
class _Plan:
    """What is fixed for a whole fit: sizes, split, batch size, epochs per stage."""

    n_cells: int
    n_test: int
    batch_size: int
    train_idx: torch.Tensor
    test_idx: torch.Tensor
    epochs: list[int]

    @property
    def n_train(self) -> int:
        return self.n_cells - self.n_test


def plan(task: Task, config: TrainConfig) -> _Plan:
    """Check ``config`` against ``task`` and fix the split and the batch size (raises
    InputError for settings that cannot work; used before a run is recorded)."""
    n = int(task.data.shape[0])
    n_test = resolve_test_size(config.test_size, n, task.default_test_size(n))
    batch_size = config.batch_size if config.batch_size is not None else task.default_batch_size(n - n_test)
    stages = task.stages()
    epochs = [config.stage_epochs(s.name, s.epochs) for s in stages]
    check(config, n_cells=n, n_test=n_test, batch_size=int(batch_size), stage_names=[s.name for s in stages],
          stage_epochs=epochs)
    train_idx, test_idx = split(n, n_test, config.seed)
    return _Plan(n, n_test, int(batch_size), train_idx, test_idx, epochs)


def fit(task: Task, config: TrainConfig, recorder: Recorder | None = None, *, checkpoint_dir=None,
        resume_from=None, stop=None) -> FitResult:
    """Train ``task.model`` in place; see the module docstring."""
    world = ddp.from_env()
    device = torch_device(config.device, world.local_rank)
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    created = ddp.init(world, device)
    try:
        loop = _Loop(task, config, recorder if (recorder is not None and world.main) else NULL,
                     Path(checkpoint_dir) if (checkpoint_dir is not None and world.main) else None, stop, world, device)
        return loop.run(resume_from)
    finally:
        ddp.shutdown(created)
        torch.set_num_threads(threads)


class _Loop:
    def __init__(self, task, config, recorder, checkpoint_dir, stop, world, device):
        self.task, self.config, self.recorder, self.dir, self.stop = task, config, recorder, checkpoint_dir, stop
        self.world, self.device = world, device
        self.plan = plan(task, config)
        self.model = task.model.to(device)
        data = task.data
        if device.type == "cuda" and data.element_size() * data.nelement() <= _GPU_RESIDENT_BYTES:
            data = data.to(device)
        self.data = data
        self.train_idx = self.plan.train_idx.to(data.device)
        self.test_idx = self.plan.test_idx.to(data.device)
        self.stages = task.stages()
        self.step = 0
        self.last_checkpoint: str | None = None
        self.summary: dict = {}  # stage name -> summary (persisted in checkpoints)

    # -- the loop --------------------------------------------------------------------------
    def run(self, resume_from) -> FitResult:
        state = self._resume(resume_from) if resume_from is not None else None
        if state is None:
            seed_everything(self.config.seed)
        position = state["position"] if state else {"stage_index": 0, "stage_done": False, "epoch": 0, "batch": 0}
        first = position["stage_index"] + (1 if position["stage_done"] else 0)
        spe = steps_per_epoch(self.plan.n_train, self.plan.batch_size, self.world.size)
        self.recorder.start({
            "device": str(self.device), "world_size": self.world.size, "threads": torch.get_num_threads(),
            "amp": "bf16" if uses_amp(self.device, self.config.amp) else "off",
            "n_cells": self.plan.n_cells, "n_train": self.plan.n_train, "n_test": self.plan.n_test,
            "batch_size": self.plan.batch_size, "steps_per_epoch": spe,
            "stages": [{"name": s.name, "epochs": e} for s, e in zip(self.stages, self.plan.epochs)],
            "resumed_from": str(resume_from) if resume_from is not None else None, "step": self.step,
        })
        t0, step0 = time.perf_counter(), self.step
        status = "done"
        for si in range(first, len(self.stages)):
            inside = state is not None and si == position["stage_index"] and not position["stage_done"]
            if not self._stage(si, state if inside else None):
                status = "cancelled"
                break
        seconds = time.perf_counter() - t0
        return FitResult(status=status, step=self.step, stages=self.summary, checkpoint=self.last_checkpoint,
                         seconds=round(seconds, 3),
                         steps_per_second=round((self.step - step0) / seconds, 2) if seconds > 0 else 0.0,
                         info={"n_train": self.plan.n_train, "n_test": self.plan.n_test,
                               "batch_size": self.plan.batch_size, "device": str(self.device),
                               "world_size": self.world.size})

    def _stage(self, si: int, state: dict | None) -> bool:
        """Train stage ``si`` (from ``state`` when resuming inside it); False when stopped."""
        stage, epochs, cfg = self.stages[si], self.plan.epochs[si], self.config
        trainable = {id(p) for p in stage.parameters()}
        for p in self.model.parameters():
            p.requires_grad_(id(p) in trainable)
        optimizer = build_optimizer(cfg.optimizer, self.model.parameters(), cfg.lr, cfg.weight_decay)
        spe = steps_per_epoch(self.plan.n_train, self.plan.batch_size, self.world.size)
        scheduler = self.task.configure_scheduler(optimizer, stage, spe * epochs)
        progress = {"best": None, "bad_epochs": 0, "loss_sum": 0.0, "loss_weight": 0.0}
        start_epoch = start_batch = 0
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            progress.update({k: state["progress"][k] for k in progress})
            start_epoch, start_batch = state["position"]["epoch"], state["position"]["batch"]
            ckpt.set_rng_state(state["rng"])
        module = ddp.wrap(self.model, self.world, self.device)
        self.summary.setdefault(stage.name, {"epochs": 0, "stopped_early": False, "best_test_loss": None})
        self.recorder.stage(si, stage.name, epochs, start_epoch)

        for epoch in range(start_epoch + 1, epochs + 1):
            batches = epoch_batches(self.plan.n_train, self.plan.batch_size, cfg.seed, si, epoch,
                                    self.world.rank, self.world.size)
            tick = time.perf_counter()
            cells = sum(len(b) for b in batches[start_batch:]) * self.world.size
            self.model.train()
            for b in range(start_batch, len(batches)):
                value, stop = self._step(module, optimizer, scheduler, stage.name, epoch, batches[b])
                weight = float(len(batches[b]))
                progress["loss_sum"] += value * weight
                progress["loss_weight"] += weight
                if stop:
                    self.recorder.message(f"stop requested: checkpointing at stage {stage.name}, epoch {epoch}, "
                                          f"step {self.step}")
                    self._save(si, False, epoch - 1, b + 1, optimizer, scheduler, progress)
                    return False
            start_batch = 0
            metrics = {"train/loss": progress["loss_sum"] / max(progress["loss_weight"], 1.0)}
            progress["loss_sum"] = progress["loss_weight"] = 0.0
            if self.plan.n_test:
                metrics.update({f"test/{k}": v for k, v in self._evaluate(stage.name).items()})
            seconds = time.perf_counter() - tick
            metrics["seconds"] = seconds
            metrics["cells_per_s"] = cells / seconds if seconds else 0.0
            self.recorder.epoch(stage.name, epoch, self.step, metrics)

            early = self._early_stop(progress, metrics.get("test/loss"))
            summary = self.summary[stage.name]
            summary.update({"epochs": epoch, "best_test_loss": progress["best"],
                            **{k: v for k, v in metrics.items() if k not in ("seconds", "cells_per_s")}})
            if early:
                summary["stopped_early"] = True
                self.recorder.message(f"early stopping at stage {stage.name}, epoch {epoch}: no test loss "
                                      f"better than {progress['best']:.6g} for {cfg.patience} epochs")
            done = early or epoch == epochs
            if done or (cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0):
                self._save(si, done, epoch, 0, optimizer, scheduler, progress)
            if done:
                break
        return True

    def _step(self, module, optimizer, scheduler, stage: str, epoch: int, positions) -> tuple[float, bool]:
        """One optimiser step; returns (the batch loss averaged over processes, stop requested)."""
        batch = self.data[self.train_idx[positions.to(self.train_idx.device)]].to(self.device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.config.amp):
            loss = module(batch, stage)
        loss.backward()
        # one exchange per step: the mean loss and whether any process was asked to stop
        wants_stop = 1.0 if (self.stop is not None and self.stop.is_set()) else 0.0
        total, stops = ddp.all_sum([float(loss.detach()), wants_stop], self.world, self.device)
        value = total / self.world.size
        if not math.isfinite(value):  # before the update: the weights stay the last finite ones
            what = "NaN" if math.isnan(value) else "infinite"
            raise Diverged(f"loss became {what} at stage {stage}, epoch {epoch}, step {self.step + 1}",
                           f"lower --lr (now {self.config.lr:g})")
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        self.task.after_step(stage)
        self.step += 1
        if self.step % self.config.log_every == 0:
            metrics = {"train/loss": value, "lr": float(optimizer.param_groups[0]["lr"])}
            if self.config.test_every_step and self.plan.n_test:
                metrics.update({f"test/{k}": v for k, v in self._evaluate(stage).items()})
            self.recorder.step(stage, epoch, self.step, metrics)
        return value, stops > 0

    @torch.no_grad()
    def _evaluate(self, stage: str) -> dict[str, float]:
        """``task.evaluate`` over the held-out cells in batches, averaged by cells (rank 0's
        numbers on every process, so all take the same early-stopping decision)."""
        self.model.eval()
        totals: dict[str, float] = {}
        n = 0
        self.task.start_evaluation(stage)
        with autocast(self.device, self.config.amp):
            for chunk in self.test_idx.split(self.plan.batch_size):
                batch = self.data[chunk].to(self.device, non_blocking=True)
                for k, v in self.task.evaluate(batch, stage).items():
                    totals[k] = totals.get(k, 0.0) + float(v) * len(chunk)
                n += len(chunk)
        self.model.train()
        means = {**{k: v / n for k, v in totals.items()}, **self.task.finish_evaluation(stage)}
        names = sorted(means)
        values = ddp.from_main([means[k] for k in names], self.world, self.device)
        return dict(zip(names, values))

    def _early_stop(self, progress: dict, test_loss: float | None) -> bool:
        if test_loss is None:
            return False
        if progress["best"] is None or test_loss < progress["best"] - self.config.min_delta:
            progress["best"], progress["bad_epochs"] = float(test_loss), 0
            return False
        progress["bad_epochs"] += 1
        return self.config.patience is not None and progress["bad_epochs"] >= self.config.patience

    # -- checkpoints -----------------------------------------------------------------------
    def _fingerprint(self) -> dict:
        return {"seed": int(self.config.seed), "n_cells": self.plan.n_cells, "n_test": self.plan.n_test,
                "batch_size": self.plan.batch_size, "world_size": self.world.size, "epochs": list(self.plan.epochs),
                "stages": [s.name for s in self.stages], "optimizer": self.config.optimizer}

    def _save(self, si, stage_done, epoch, batch, optimizer, scheduler, progress) -> None:
        if self.dir is None:
            return
        name = self.stages[si].name
        state = {
            "format": ckpt.FORMAT,
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": ckpt.rng_state(),
            "position": {"stage_index": si, "stage": name, "stage_done": bool(stage_done), "epoch": int(epoch),
                         "batch": int(batch), "step": int(self.step)},
            "progress": {**{k: progress[k] for k in ("best", "bad_epochs", "loss_sum", "loss_weight")},
                         "summary": self.summary},
            "config": self._fingerprint(),
        }
        path = ckpt.save(self.dir, state, keep=self.config.keep_checkpoints)
        self.last_checkpoint = str(path)
        self.recorder.checkpoint(path, name, int(epoch), self.step)

    def _resume(self, path) -> dict:
        state = ckpt.load(Path(path))
        mine = self._fingerprint()
        theirs = state["config"]
        for key in ("seed", "n_cells", "n_test", "batch_size", "world_size", "stages", "optimizer"):
            if theirs.get(key) != mine[key]:
                raise ConflictError(f"checkpoint {Path(path).name} was written with {key}={theirs.get(key)!r}, "
                                    f"this run has {key}={mine[key]!r}",
                                    "resume with the settings the checkpoint was written with")
        self.model.load_state_dict(state["model"])
        self.step = int(state["position"]["step"])
        self.summary = state["progress"].get("summary", {})
        self.last_checkpoint = str(path)
        if self.dir is not None:
            ckpt.remove_temporaries(self.dir)
        position = state["position"]
        if position["stage_done"]:
            ckpt.set_rng_state(state["rng"])
        self.recorder.message(f"resuming from {Path(path).name}: stage {position['stage']}, "
                              f"epoch {position['epoch']}, step {self.step}")
        return state
