"""``cellwak train MODEL``: train a registered model as a recorded run.

Every model command declares only its own options and returns its model settings; the
:func:`model_command` decorator adds the common training options and does the rest::

    @app.command("ae")
    @model_command("ae")
    def ae(latent: Annotated[int, typer.Option(help="...")] = 8) -> dict:
        \"\"\"Help text.\"\"\"
        return {"latent": latent}

Another module adds its model to this group with ``train.app.command("deepwak")(deepwak)``
in ``cellwak/cli/app.py``'s ``_register()``.
"""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
from typing import Annotated, Optional

import typer

from ._state import emit, state, stderr_console, workspace

app = typer.Typer(help="Train a model on a dataset: a recorded run that can be detached, followed, cancelled "
                       "and resumed (see `cellwak runs`).", no_args_is_help=True)

_COMMON = [
    ("dataset", Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (default: the built-in 'blood').")], "blood"),
    ("rep", Annotated[Optional[str], typer.Option(help="Train on obsm[KEY] (or X); default: the scaled features.")], None),
    ("epochs", Annotated[Optional[str], typer.Option(help="Epochs for every stage (N) or per stage (name=N,name=N); default: the model's.", show_default=False)], None),
    ("batch_size", Annotated[Optional[int], typer.Option(help="Cells per step and per process; default: the model's.", show_default=False)], None),
    ("lr", Annotated[Optional[float], typer.Option(help="Learning rate; default: the model's (1e-3 unless it says otherwise).", show_default=False)], None),
    ("weight_decay", Annotated[Optional[float], typer.Option(help="Weight decay; default: the model's (0 unless it says otherwise).", show_default=False)], None),
    ("optimizer", Annotated[Optional[str], typer.Option(help="adamw (persistent AdamW) or adam-reset (the DeePWAK reference: sign steps plus unscaled decay).", show_default=False)], None),
    ("test_size", Annotated[Optional[float], typer.Option(help="Held-out cells: a fraction (< 1), a count, or 0; default: the model's (10%).", show_default=False)], None),
    ("patience", Annotated[Optional[int], typer.Option(help="Stop a stage after this many epochs without a better test loss (default: off).", show_default=False)], None),
    ("checkpoint_every", Annotated[Optional[int], typer.Option(help="Epochs between checkpoints (0: only at the end of each stage); default 10.", show_default=False)], None),
    ("device", Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")], "auto"),
    ("seed", Annotated[int, typer.Option(help="Random seed (initial weights, split, batch order).")], 0),
    ("threads", Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's; a resumed run keeps its count).", show_default=False)], None),
    ("test_every_step", Annotated[bool, typer.Option("--test-every-step", help="Also record the test loss after every step (as the DeePWAK reference).")], False),
    ("nproc", Annotated[int, typer.Option(help="Processes (DDP through torchrun; one GPU each on CUDA, gloo on the CPU).")], 1),
    ("detach", Annotated[bool, typer.Option("--detach", help="Run in the background (survives the terminal); prints the run id.")], False),
]
_COMMON_NAMES = [name for name, _, _ in _COMMON]
TRAIN_OVERRIDES = "__train__"  # key of a model command's result holding its preferred training settings


def model_command(model: str):
    """Decorate a function that takes a model's own options and returns its settings dict: the
    result is a Typer command with the common training options too, which trains ``model``.
    Under the key ``TRAIN_OVERRIDES`` the dict may carry training settings the command prefers
    (they fill options the user left unset)."""

    def decorate(fn):
        own = list(inspect.signature(fn, eval_str=True).parameters.values())
        common = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
                  for name, annotation, default in _COMMON]
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + common

        @functools.wraps(fn)
        def command(**kwargs):
            options = {name: kwargs.pop(name) for name in _COMMON_NAMES}
            settings = dict(fn(**kwargs))
            # a model command may prefer training settings (e.g. --published); the user's win
            for name, value in settings.pop(TRAIN_OVERRIDES, {}).items():
                if options.get(name) in (None, False):  # unset (a flag's unset value is False)
                    options[name] = value
            train_model(model, settings, **options)

        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer must see the new signature, not fn's
        return command

    return decorate


def train_model(model: str, model_config: dict, *, dataset: str, rep, epochs, batch_size, lr, weight_decay,
                optimizer, test_size, patience, checkpoint_every, device, seed, threads, test_every_step, nproc,
                detach) -> None:
    """Check, record and run (or detach) a training run of ``model``; print its outcome."""
    from ..runs import TrainRequest, execute, launch, prepare, submit
    from ..train import parse_epochs, stop_on_signals

    train = {"epochs": parse_epochs(epochs), "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
             "optimizer": optimizer, "test_size": test_size, "patience": patience,
             "checkpoint_every": checkpoint_every, "device": device, "seed": seed, "threads": threads,
             "test_every_step": test_every_step or None, "nproc": nproc}
    ws = workspace()
    prepared = prepare(ws, TrainRequest(model, dataset, model_config, train, rep))
    run = submit(ws, prepared)
    if detach:
        launch(ws, run["id"])
        _detached(ws, run["id"])
        return
    if nproc > 1:
        row = _foreground_processes(ws, run["id"])
    else:
        with TrainProgress() as progress, stop_on_signals() as stop:
            row = execute(ws, run["id"], stop=stop, prepared=prepared, recorders=[progress])
    report(row)


def _detached(ws, run_id: int) -> None:
    from ..runs import show

    row = show(ws, run_id)
    if state.json:
        emit(_public(row))
        return
    sys.stdout.write(f"{run_id}\n")
    sys.stdout.flush()
    note(f"run {run_id} started in the background (pid {row['pid']}); follow it with "
         f"`cellwak runs logs {run_id} --follow`, stop it with `cellwak runs cancel {run_id}`")


def _foreground_processes(ws, run_id: int) -> dict:
    """Several processes (torchrun) in this terminal: progress from the catalog."""
    from ..runs import launch, wait

    proc = launch(ws, run_id, detach=False)
    with TrainProgress() as progress:
        try:
            row = wait(ws, run_id, on_update=progress.from_row)
        except KeyboardInterrupt:  # Ctrl-C reached the workers too: they checkpoint and stop
            row = wait(ws, run_id, timeout=120)
    try:
        proc.wait(timeout=60)  # torchrun exits once its workers have
    except subprocess.TimeoutExpired:
        pass
    if row["status"] == "failed":
        from ..runs import RunFailed

        raise RunFailed(f"run {run_id} failed: {row['error']}")
    return row


def report(row: dict) -> None:
    """The outcome of a foreground run: one JSON object, or a few lines."""
    out = _public(row)
    if row["status"] == "cancelled":
        note(f"run {row['id']} cancelled at stage {row['stage']}, epoch {row['epoch']} (step {row['step']}); "
             f"resume it with `cellwak runs resume {row['id']}`")
    emit(out, lambda c: _render_done(c, out))
    if row["status"] == "cancelled":
        raise typer.Exit(130)


def note(text: str) -> None:
    """One line on stderr for a person (nothing with --json)."""
    if not state.json:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _public(row: dict) -> dict:
    keys = ("id", "model", "dataset", "status", "pid", "stage", "epoch", "step", "checkpoint", "log", "error",
            "seed", "device", "threads", "nproc", "params", "result", "last_metrics", "weights", "created", "started",
            "ended", "attempt", "provenance", "info", "heartbeat_age", "folder")
    return {"run_id": row["id"], **{k: row.get(k) for k in keys if k in row}}


def _render_done(console, out: dict) -> None:
    result = out.get("result") or {}
    if out["status"] != "done":
        return
    stages = result.get("stages", {})
    parts = []
    for name, s in stages.items():
        losses = ", ".join(f"{k} {s[k]:.4g}" for k in ("train/loss", "test/loss") if s.get(k) is not None)
        early = " (stopped early)" if s.get("stopped_early") else ""
        parts.append(f"{name}: {s['epochs']} epochs{early}, {losses}")
    console.print(f"run {out['run_id']} done: {out['model']} on {out['dataset']} in {result.get('seconds', 0):.1f} s "
                  f"({result.get('steps', 0)} steps, {result.get('steps_per_second', 0):.0f} steps/s on {out['device']})")
    for p in parts:
        console.print(f"  {p}")
    if result.get("outputs"):
        console.print(f"  wrote {', '.join(result['outputs'])} into dataset '{out['dataset']}'; weights {result['weights']}")


class TrainProgress:
    """A rich progress bar per stage on stderr (silent with --json or off a terminal); a
    recorder for foreground runs, or fed with catalog rows (``from_row``) for torchrun runs."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = stderr_console()
        self.enabled = not state.json and console.is_terminal
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), console=console,
                                  transient=True, disable=not self.enabled)
        self._task = None
        self._name, self._epochs, self._spe = None, 0, 1
        self._losses = ""

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    # recorder events
    def start(self, info):
        self._spe = max(1, int(info["steps_per_epoch"]))

    def stage(self, index, name, epochs, start_epoch):
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._name, self._epochs = name, epochs
        self._task = self._progress.add_task(f"{name} epoch {start_epoch + 1}/{epochs}", total=epochs * self._spe,
                                             completed=start_epoch * self._spe, loss="")

    def step(self, stage, epoch, step, metrics):
        if self._task is not None:
            self._progress.advance(self._task)
            self._progress.update(self._task, loss=f"loss {metrics['train/loss']:.4g}{self._losses}")

    def epoch(self, stage, epoch, step, metrics):
        test = metrics.get("test/loss")
        self._losses = f"  test {test:.4g}" if test is not None else ""
        if self._task is not None:
            self._progress.update(self._task, completed=epoch * self._spe,
                                  description=f"{self._name} epoch {min(epoch + 1, self._epochs)}/{self._epochs}")

    def checkpoint(self, path, stage, epoch, step):
        pass

    def message(self, text):
        pass

    # catalog rows (torchrun runs)
    def from_row(self, row: dict) -> None:
        info = row.get("info") or {}
        if not info.get("stages") or row.get("stage") is None:
            return
        epochs = {s["name"]: s["epochs"] for s in info["stages"]}
        total = epochs.get(row["stage"], 1)
        if self._task is None or self._name != row["stage"]:
            if self._task is not None:
                self._progress.update(self._task, visible=False)
            self._name = row["stage"]
            self._task = self._progress.add_task(f"{row['stage']} epochs", total=total, loss="")
        self._progress.update(self._task, completed=row["epoch"] or 0)


@app.command("ae")
@model_command("ae")
def ae(
    latent: Annotated[int, typer.Option(help="Embedding dimensions (obsm['X_ae']).")] = 8,
    hidden: Annotated[int, typer.Option(help="Hidden layer width (0: half the features).")] = 0,
    activation: Annotated[str, typer.Option(help="tanh or relu.")] = "tanh",
) -> dict:
    """A small MLP autoencoder (features -> m/2 -> latent): writes obsm['X_ae'] into the dataset.

    Trains in the foreground with a progress bar, or in the background with --detach. Then
    cluster on it with `cellwak cluster --rep X_ae`.
    """
    return {"latent": latent, "hidden": hidden, "activation": activation}
