"""What the loop tells the world: a recorder receives events and may store or draw them.

The loop never prints. It calls a :class:`Recorder` (only on rank 0 under DDP); the runs layer
streams the events to the catalog and a log file, the CLI draws a progress bar, tests keep them
in memory. Metrics are flat dicts of floats named ``train/loss``, ``test/loss``, ``lr``, ...
"""

from __future__ import annotations


class Recorder:
    """The events of a fit, all optional (this base class ignores them)."""

    def start(self, info: dict) -> None:
        """Once, before the first step: device, world size, cells (train/test), batch size,
        steps per epoch, stages [{name, epochs}], where it resumes from."""

    def stage(self, index: int, name: str, epochs: int, start_epoch: int) -> None:
        """A stage begins (``start_epoch`` > 0 when resuming inside it)."""

    def step(self, stage: str, epoch: int, step: int, metrics: dict) -> None:
        """After an optimiser step (every ``log_every`` steps)."""

    def epoch(self, stage: str, epoch: int, step: int, metrics: dict) -> None:
        """After an epoch: mean train loss, test metrics, time."""

    def checkpoint(self, path, stage: str, epoch: int, step: int) -> None:
        """A checkpoint file is complete."""

    def message(self, text: str) -> None:
        """Something worth a line in the log (early stopping, resuming, a stop request)."""


NULL = Recorder()


class Fanout(Recorder):
    """Passes every event to several recorders in order."""

    def __init__(self, *recorders: Recorder):
        self.recorders = [r for r in recorders if r is not None]

    def start(self, info):
        for r in self.recorders:
            r.start(info)

    def stage(self, index, name, epochs, start_epoch):
        for r in self.recorders:
            r.stage(index, name, epochs, start_epoch)

    def step(self, stage, epoch, step, metrics):
        for r in self.recorders:
            r.step(stage, epoch, step, metrics)

    def epoch(self, stage, epoch, step, metrics):
        for r in self.recorders:
            r.epoch(stage, epoch, step, metrics)

    def checkpoint(self, path, stage, epoch, step):
        for r in self.recorders:
            r.checkpoint(path, stage, epoch, step)

    def message(self, text):
        for r in self.recorders:
            r.message(text)


class MemoryRecorder(Recorder):
    """Keeps every event in lists (tests, notebooks)."""

    def __init__(self):
        self.info: dict = {}
        self.stages: list[tuple] = []
        self.steps: list[tuple] = []
        self.epochs: list[tuple] = []
        self.checkpoints: list[tuple] = []
        self.messages: list[str] = []

    def start(self, info):
        self.info = dict(info)

    def stage(self, index, name, epochs, start_epoch):
        self.stages.append((index, name, epochs, start_epoch))

    def step(self, stage, epoch, step, metrics):
        self.steps.append((stage, epoch, step, dict(metrics)))

    def epoch(self, stage, epoch, step, metrics):
        self.epochs.append((stage, epoch, step, dict(metrics)))

    def checkpoint(self, path, stage, epoch, step):
        self.checkpoints.append((str(path), stage, epoch, step))

    def message(self, text):
        self.messages.append(text)
