"""What a model must provide to be trained by cellwak's one training loop (:mod:`cellwak.train`).

A :class:`Task` couples a model with its data and its loss. The loop owns everything else:
device and mixed precision, seeds, the held-out split, minibatches, optimisers, early stopping,
checkpoints and exact resume, metric streaming, progress, DDP. Models never write a loop.

Training may run in stages (DeePWAK: the block of heads, then a consensus partitioner with the
heads frozen, then a consensus encoder); each stage optimises its own parameters.

Optional, for models that need them: ``train_defaults`` (training settings this model prefers,
e.g. ``{"lr": 1e-3, "weight_decay": 1e-3}``; the user's options override them),
``configure_scheduler`` (a learning-rate schedule, stepped after every optimiser step and
checkpointed with it) and ``after_step`` (e.g. a DINO teacher's moving average).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn


@dataclass
class Stage:
    name: str
    epochs: int | None  # None: the run's --epochs
    parameters: Callable[[], Iterable[nn.Parameter]]  # what this stage optimises; the rest is frozen


class Task(ABC):
    """A model, its data and its loss.

    ``model`` is one ``nn.Module`` whose ``forward(batch, stage)`` returns the scalar training
    loss of a minibatch, so the loop can wrap it in DistributedDataParallel. ``data`` is a float32
    tensor with cells along dimension 0 (tables: cells x features; images: cells x C x H x W).
    """

    name: str = "task"
    model: nn.Module
    data: torch.Tensor
    config: dict
    train_defaults: dict = {}

    @abstractmethod
    def stages(self) -> list[Stage]:
        """The training stages, in order."""

    def default_test_size(self, n: int) -> int:
        """Cells held out for the test loss when the user does not say (10%, at least 1)."""
        return max(1, n // 10)

    def default_batch_size(self, n_train: int) -> int:
        return min(256, n_train)

    def configure_scheduler(self, optimizer: torch.optim.Optimizer, stage: Stage, total_steps: int):
        """A learning-rate scheduler for ``stage`` (stepped once per optimiser step), or None."""
        return None

    def after_step(self, stage: str) -> None:
        """Called after every optimiser step (on every process)."""

    @torch.no_grad()
    def evaluate(self, batch: torch.Tensor, stage: str) -> dict[str, float]:
        """Metrics on held-out cells; must include ``loss``. Default: the training loss."""
        return {"loss": float(self.model(batch, stage))}

    def start_evaluation(self, stage: str) -> None:
        """Called before the held-out cells are evaluated (for metrics over all of them)."""

    def finish_evaluation(self, stage: str) -> dict[str, float]:
        """Metrics over all held-out cells, computed after every ``evaluate`` batch (e.g. a macro
        F1, which is no average of batch values); merged with the averaged batch metrics."""
        return {}

    @torch.no_grad()
    def outputs(self, data: torch.Tensor) -> dict[str, np.ndarray]:
        """Results written to the dataset when training ends (keys are AnnData keys such as
        ``obsm/X_deepwak`` or ``obs/deepwak_cluster``). Default: nothing."""
        return {}
