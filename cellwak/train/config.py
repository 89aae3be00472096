"""Training settings: one dataclass, checked before anything runs.

``TrainConfig`` holds what the user may set for any model. A task may change the defaults with
its ``train_defaults`` dict (DeePWAK: lr 1e-3, weight decay 1e-3); the user's values override
both. :func:`check` raises :class:`~cellwak.errors.InputError` (one line, exit 2) for values that
cannot work, so a bad setting is refused before a run is recorded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Union

from ..choices import AMP_MODES, OPTIMIZERS
from ..errors import InputError
from .device import resolve_device



@dataclass
class TrainConfig:
    epochs: Union[int, dict, None] = None  # every stage (int), per stage ({name: n}), or the task's own
    batch_size: int | None = None  # cells per step and per process; None: task.default_batch_size
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"  # adamw (persistent state) | adam-reset (the DeePWAK reference)
    test_size: float | None = None  # held-out cells: a fraction (< 1), a count (>= 1), 0 for none; None: task default
    patience: int | None = None  # early stopping: epochs without a better test loss; None: off
    min_delta: float = 0.0  # an improvement smaller than this does not count
    checkpoint_every: int = 10  # epochs between checkpoints (0: only at the end of each stage)
    keep_checkpoints: int = 2  # newest checkpoint files kept
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    amp: str = "auto"  # auto: bf16 autocast on CUDA, nothing on CPU | bf16 | off
    nproc: int = 1  # processes (torchrun); the loop itself reads the world size from the environment
    log_every: int = 1  # record the step loss every N steps
    test_every_step: bool = False  # also record the test loss after every step (the DeePWAK reference does)
    threads: int | None = None  # torch CPU threads; None: torch's default

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown training setting {unknown[0]!r}", f"known: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    def stage_epochs(self, name: str, default: int) -> int:
        if self.epochs is None:
            return default
        if isinstance(self.epochs, dict):
            return int(self.epochs.get(name, default))
        return int(self.epochs)


def make_config(task=None, overrides: dict | None = None) -> TrainConfig:
    """The task's training defaults overridden by the user's values (``None`` means unset)."""
    values = dict(getattr(task, "train_defaults", None) or {})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return TrainConfig.from_dict(values)


def parse_epochs(text: str | None):
    """``--epochs 50`` (every stage) or ``--epochs block=1000,consensus_partitioner=100`` (per stage)."""
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    try:
        if "=" not in text:
            return int(text)
        out = {}
        for part in text.split(","):
            name, value = part.split("=", 1)
            out[name.strip()] = int(value)
        return out
    except ValueError:
        raise InputError(f"--epochs {text!r} is not a number", "give a whole number such as 50, or stage=N,stage=N") from None


def resolve_test_size(test_size: float | None, n: int, default: int) -> int:
    """Held-out cells for ``n`` cells: a fraction, a count, or the task's default."""
    if test_size is None:
        return int(default)
    if test_size < 0:
        raise InputError(f"--test-size must be 0 or more, got {test_size:g}")
    k = int(round(test_size * n)) if test_size < 1 else int(test_size)
    if test_size >= 1 and test_size != int(test_size):
        raise InputError(f"--test-size {test_size:g} is neither a fraction below 1 nor a whole number of cells")
    if k >= n:
        raise InputError(f"--test-size {test_size:g} holds out {k} of {n} cells, leaving none to train on",
                         "use a fraction such as 0.1 or a smaller count")
    return k


def check(config: TrainConfig, *, n_cells: int, n_test: int, batch_size: int, stage_names: list[str],
          stage_epochs: list[int]) -> None:
    """Refuse settings that cannot work, with one line saying which and how to fix it."""
    for name, epochs in zip(stage_names, stage_epochs):
        if epochs < 1:
            where = f" for stage {name!r}" if isinstance(config.epochs, dict) or len(stage_names) > 1 else ""
            raise InputError(f"--epochs must be at least 1{where}, got {epochs}")
    if isinstance(config.epochs, dict):
        unknown = sorted(set(config.epochs) - set(stage_names))
        if unknown:
            raise InputError(f"--epochs names no stage {unknown[0]!r}", f"this model's stages: {', '.join(stage_names)}")
    if not 0 < config.lr < math.inf:
        raise InputError(f"--lr must be a finite number greater than 0, got {config.lr:g}")
    if not 0 <= config.weight_decay < math.inf:
        raise InputError(f"--weight-decay must be a finite number, 0 or more, got {config.weight_decay:g}")
    if config.test_size is not None and not math.isfinite(config.test_size):
        raise InputError(f"--test-size must be a finite number, got {config.test_size:g}")
    if config.optimizer not in OPTIMIZERS:
        raise InputError(f"unknown --optimizer {config.optimizer!r}", f"choose {' or '.join(OPTIMIZERS)}")
    if config.amp not in AMP_MODES:
        raise InputError(f"unknown amp mode {config.amp!r}", f"choose {', '.join(AMP_MODES)}")
    if config.patience is not None and config.patience < 1:
        raise InputError(f"--patience must be at least 1, got {config.patience}", "leave it out to train every epoch")
    if config.patience is not None and n_test == 0:
        raise InputError("early stopping (--patience) needs held-out cells", "set --test-size above 0")
    if config.min_delta < 0:
        raise InputError(f"min_delta must be 0 or more, got {config.min_delta:g}")
    if config.checkpoint_every < 0:
        raise InputError(f"--checkpoint-every must be 0 or more, got {config.checkpoint_every}")
    if config.keep_checkpoints < 1:
        raise InputError(f"keep_checkpoints must be at least 1, got {config.keep_checkpoints}")
    if config.log_every < 1:
        raise InputError(f"log_every must be at least 1, got {config.log_every}")
    if config.threads is not None and config.threads < 1:
        raise InputError(f"--threads must be at least 1, got {config.threads}")
    if config.nproc < 1:
        raise InputError(f"--nproc must be at least 1, got {config.nproc}")
    n_train = n_cells - n_test
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    if batch_size > n_train:
        raise InputError(f"--batch-size {batch_size} is larger than the {n_train} training cells "
                         f"({n_cells} cells, {n_test} held out)", f"use --batch-size {n_train} or less")
    if n_train < config.nproc:
        raise InputError(f"--nproc {config.nproc} needs at least {config.nproc} training cells, there are {n_train}")
    device = resolve_device(config.device)
    if device == "cuda" and config.nproc > 1:
        import torch

        if torch.cuda.device_count() < config.nproc:
            raise InputError(f"--nproc {config.nproc} needs {config.nproc} GPUs, this machine has "
                             f"{torch.cuda.device_count()}", "use fewer processes, or --device cpu")
