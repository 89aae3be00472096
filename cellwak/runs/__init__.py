"""Training runs: recorded, resumable, observable while they run, local or detached, one
process or several (torchrun).

A run is a row of the catalog's ``runs`` table (lifecycle queued -> running -> done | failed |
cancelled; pid, heartbeat, params, seed, versions, threads, device) with its metrics in
``run_metrics`` and its files under ``<home>/runs/<id>/``: ``log.txt``, ``checkpoints/step-*.pt``
and, when done, ``model.pt`` (the final state dict). The training itself is
:func:`cellwak.train.fit`; this package records it.

Modules: ``request`` (check a request and build its task), ``control`` (submit, launch, wait,
cancel, resume, show, logs), ``execute`` (the worker's body), ``worker`` (the process entry
point), ``store`` (catalog rows, liveness), ``recorder`` (catalog and log recorders), ``outputs``
(a done run's outputs and loss curves).
"""

from .control import cancel, launch, read_log, resume, show, submit, wait, worker_command
from .execute import RunFailed, execute, write_outputs
from .eta import run_progress
from .outputs import embed, export_metrics, loss_curves, run_outputs
from .request import Prepared, TrainRequest, prepare, training_array
from .store import ACTIVE, RESUMABLE, TERMINAL, RunStore

__all__ = ["ACTIVE", "Prepared", "RESUMABLE", "RunFailed", "RunStore", "TERMINAL", "TrainRequest", "cancel",
           "embed", "execute", "export_metrics", "launch", "loss_curves", "prepare", "read_log", "resume", "run_outputs", "run_progress", "show",
           "submit", "training_array", "wait", "worker_command", "write_outputs"]
