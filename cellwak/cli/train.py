"""``cellwak train MODEL``: train a registered model as a recorded run.

Every model command declares only its own options, with defaults from the model registry
(:func:`cellwak.api.model_defaults`), and returns its settings; :func:`model_command` adds the
common training options (defaults from :class:`cellwak.api.TrainSettings`) and calls
:func:`cellwak.api.start_run`::

    D, C = api.model_defaults("ae"), api.model_choices("ae")

    @model_command("ae")
    def ae(latent: Annotated[int, typer.Option(help="...")] = D["latent"]) -> dict:
        \"\"\"Help text.\"\"\"
        return {"latent": latent}
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET, TrainSettings
from ..choices import OPTIMIZERS
from ._options import Dataset, Seed
from ._state import emit, home, note, state
from ._train_progress import TrainProgress

app = typer.Typer(help="Train a model on a dataset: a recorded run that can be detached, followed, cancelled "
                       "and resumed (see `cellwak runs`).", no_args_is_help=True)

T = TrainSettings
_COMMON = [
    ("dataset", Dataset, DEFAULT_DATASET),
    ("rep", Annotated[Optional[str], typer.Option(help="Train on an obsm key (or X); default: the scaled features.",
                                                  show_default=False)], None),
    ("epochs", Annotated[Optional[str], typer.Option(help="Epochs for every stage (N) or per stage (name=N,name=N); "
                                                          "default: the model's.", show_default=False)], T.epochs),
    ("batch_size", Annotated[Optional[int], typer.Option(help="Cells per step and per process; default: the model's.",
                                                         show_default=False)], T.batch_size),
    ("lr", Annotated[Optional[float], typer.Option(help="Learning rate; default: the model's (1e-3 unless it says "
                                                        "otherwise).", show_default=False)], T.lr),
    ("weight_decay", Annotated[Optional[float], typer.Option(help="Weight decay; default: the model's (0 unless it "
                                                                  "says otherwise).", show_default=False)], T.weight_decay),
    ("optimizer", Annotated[Optional[Literal[OPTIMIZERS]], typer.Option(
        help="adamw (persistent AdamW) or adam-reset (the DeePWAK reference: sign steps plus unscaled decay); "
             "default: adamw.", show_default=False)], T.optimizer),
    ("test_size", Annotated[Optional[float], typer.Option(help="Held-out cells: a fraction (< 1), a count, or 0; "
                                                               "default: the model's (10%).", show_default=False)], T.test_size),
    ("patience", Annotated[Optional[int], typer.Option(help="Stop a stage after this many epochs without a better test "
                                                            "loss (default: off).", show_default=False)], T.patience),
    ("checkpoint_every", Annotated[Optional[int], typer.Option(help="Epochs between checkpoints (0: only at the end of "
                                                                    "each stage); default 10.", show_default=False)],
     T.checkpoint_every),
    ("device", Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")], T.device),
    ("seed", Seed, T.seed),
    ("threads", Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's; a resumed run keeps "
                                                           "its count).", show_default=False)], T.threads),
    ("test_every_step", Annotated[bool, typer.Option("--test-every-step", help="Also record the test loss after every "
                                                     "step (as the DeePWAK reference).")], False),
    ("nproc", Annotated[int, typer.Option(help="Processes (DDP through torchrun; one GPU each on CUDA, gloo on the "
                                               "CPU).")], T.nproc),
    ("detach", Annotated[bool, typer.Option("--detach", help="Run in the background (survives the terminal); prints "
                                            "the run id.")], False),
]
_COMMON_NAMES = [name for name, _, _ in _COMMON]
_SETTINGS = [n for n in _COMMON_NAMES if n not in ("dataset", "rep", "detach")]
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
            model_config = dict(fn(**kwargs))
            # a model command may prefer training settings (e.g. --published); the user's win
            for name, value in model_config.pop(TRAIN_OVERRIDES, {}).items():
                if options.get(name) in (None, False):  # unset (a flag's unset value is False)
                    options[name] = value
            settings = TrainSettings(**{n: options[n] for n in _SETTINGS})
            with TrainProgress() as progress:
                row = api.start_run(home(), model, options["dataset"], model_config=model_config, settings=settings,
                                    rep=options["rep"], detach=options["detach"], recorder=progress)
            report(row, detached=options["detach"])

        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer must see the new signature, not fn's
        return command

    return decorate


def report(row: dict, *, detached: bool = False) -> None:
    """The outcome of a run: its id (detached), or how it ended; one JSON object with --json."""
    if detached:
        if state.json:
            emit(row)
            return
        sys.stdout.write(f"{row['run_id']}\n")
        sys.stdout.flush()
        note(f"run {row['run_id']} started in the background (pid {row['pid']}); follow it with "
             f"`cellwak runs logs {row['run_id']} --follow`, stop it with `cellwak runs cancel {row['run_id']}`")
        return
    if row["status"] == "cancelled":
        note(f"run {row['run_id']} cancelled at stage {row['stage']}, epoch {row['epoch']} (step {row['step']}); "
             f"resume it with `cellwak runs resume {row['run_id']}`")
    emit(row, lambda c: render_done(c, row))
    if row["status"] == "cancelled":
        raise typer.Exit(130)


def render_done(console, out: dict) -> None:
    result = out.get("result") or {}
    if out["status"] != "done":
        return
    parts = []
    for name, s in result.get("stages", {}).items():
        losses = ", ".join(f"{k} {s[k]:.4g}" for k in ("train/loss", "test/loss", "test/f1_macro", "test/f1_balanced")
                           if s.get(k) is not None)
        early = " (stopped early)" if s.get("stopped_early") else ""
        parts.append(f"{name}: {s['epochs']} epochs{early}, {losses}")
    console.print(f"run {out['run_id']} done: {out['model']} on {out['dataset']} in {result.get('seconds', 0):.1f} s "
                  f"({result.get('steps', 0)} steps, {result.get('steps_per_second', 0):.0f} steps/s on {out['device']})",
                  markup=False)
    for p in parts:
        console.print(f"  {p}", markup=False)
    if result.get("outputs"):
        console.print(f"  wrote {', '.join(result['outputs'])} into dataset '{out['dataset']}'; weights {result['weights']}",
                      markup=False)


D, C = api.model_defaults("ae"), api.model_choices("ae")


@app.command("ae")
@model_command("ae")
def ae(
    latent: Annotated[int, typer.Option(help="Embedding dimensions (obsm X_ae).")] = D["latent"],
    hidden: Annotated[int, typer.Option(help="Hidden layer width (0: half the features).")] = D["hidden"],
    activation: Annotated[Literal[C["activation"]], typer.Option(help="Activation of the hidden layers.")] = D["activation"],
) -> dict:
    """A small MLP autoencoder (features -> m/2 -> latent): writes obsm X_ae into the dataset.

    Trains in the foreground with a progress bar, or in the background with --detach. Then
    cluster on it with `cellwak cluster --rep X_ae`.
    """
    return {"latent": latent, "hidden": hidden, "activation": activation}
