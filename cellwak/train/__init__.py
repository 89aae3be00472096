"""The one training loop for every cellwak model (device, bf16 autocast, seeds, minibatches,
held-out split, early stopping, checkpoints and exact resume, metric streaming, DDP).

    from cellwak.train import TrainConfig, fit
    result = fit(task, TrainConfig(epochs=20, batch_size=128), recorder, checkpoint_dir=folder)

Modules: ``task`` (what a model provides), ``config`` (settings and their checks), ``batches``
(seeded split and batch order), ``optim`` (AdamW, the DeePWAK reference's adam-reset),
``checkpoint`` (atomic, ``weights_only`` files), ``ddp`` (torchrun processes), ``device``,
``recorder`` (events out of the loop), ``loop`` (:func:`fit`), ``signals`` (stop on SIGTERM or
Ctrl-C). Runs (catalog records, detached processes) live in :mod:`cellwak.runs`.
"""

from .config import TrainConfig, make_config, parse_epochs
from .loop import Diverged, FitResult, fit, plan
from .recorder import Fanout, MemoryRecorder, Recorder
from .signals import stop_on_signals
from .task import Stage, Task

__all__ = ["Diverged", "Fanout", "FitResult", "MemoryRecorder", "Recorder", "Stage", "Task", "TrainConfig",
           "fit", "make_config", "parse_epochs", "plan", "stop_on_signals"]
