"""The command line as a finished tool: help that lists allowed values and keeps every word,
shell completion, tables that fit 80 columns, progress on stderr only (plain lines off a
terminal), run progress with an ETA, metrics export, clusterings that can be removed."""

from __future__ import annotations

import io
import re

import pytest


def _click_commands():
    import typer

    from cellwak.cli.app import app

    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}".strip())

    return list(walk(root, ""))


def _choices(param) -> tuple:
    """The allowed values of an option declared as Literal[...] (or Optional[Literal[...]])."""
    from typing import Literal, get_args, get_origin

    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) is Literal:
            return get_args(candidate)
    return ()


def test_help_lists_the_allowed_values_of_every_choice(cli, monkeypatch):
    import typer.rich_utils

    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 400)  # one line per option: the metavar stays whole
    checked = 0
    for path, cmd in _click_commands():
        choices = [p for p in cmd.params if _choices(p)]
        if not choices:
            continue
        page = cli(*path.split(), "--help").out
        for p in choices:
            shown = "|".join(str(c) for c in _choices(p))
            assert f"<{shown}>" in page, f"{path} {p.opts[0]}: {shown} not in --help"
            checked += 1
    assert checked >= 20


def _plain_markdown(text: str) -> str:
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console(file=io.StringIO(), width=400, record=True)
    console.print(Markdown(text))
    return console.export_text()


def _words(text: str) -> str:
    return re.sub(r"[\s`]", "", text)


def test_no_help_text_loses_a_character_to_markup():
    """Help is rendered as Markdown: no help text may hold what Markdown would swallow."""
    texts = []
    for path, cmd in _click_commands():
        if cmd.help:
            texts.append((path, cmd.help))
        texts += [(f"{path} {p.opts[0]}", p.help) for p in cmd.params if getattr(p, "help", None)]
    assert len(texts) > 150
    lost = [(where, t) for where, t in texts if _words(_plain_markdown(t)) != _words(t)]
    assert not lost, lost[:5]


def test_markdown_check_catches_a_swallowed_character():
    assert _words(_plain_markdown("a *marked* word")) != _words("a *marked* word")


def test_shell_completion_is_offered(cli):
    assert "--install-completion" in cli("--help").out
    script = cli("--show-completion", "bash").out
    assert "_CELLWAK_COMPLETE" in script and "complete" in script


def test_clusters_list_fits_80_columns(cli, home):
    from rich.console import Console

    from cellwak.cli.clusters import render_list

    rows = [{"id": 1000 + i, "dataset": "a_rather_long_dataset_name_from_a_screen", "method": m, "key": "cellwak_leiden_g0.0502",
             "gamma": 0.050234, "k": 15, "n_clusters": 123, "metrics": {"ari": 0.98123, "nmi": 0.97}, "chosen": i == 1,
             "created": "2026-11-30T02:12:11+0000"} for i, m in enumerate(["leiden-sweep", "leiden-sweep", "leiden"])]
    out = io.StringIO()
    render_list(Console(file=out, width=80), rows)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len([line for line in lines if re.match(r"\s*10\d\d ", line)]) == 3  # one line per clustering
    assert "2026-11-30 02:12" in out.getvalue() and "sweep *" in out.getvalue()


def test_plain_progress_lines_off_a_terminal(monkeypatch, capsys):
    import time

    from cellwak.cli import _progress

    monkeypatch.setattr(_progress, "PLAIN_AFTER", 0.0)
    monkeypatch.setattr(_progress, "PLAIN_EVERY", 0.0)
    with _progress.CliProgress(terminal=False) as progress:
        with progress.task("kNN search", total=4) as task:
            for _ in range(4):
                time.sleep(0.01)
                task.advance()
        with progress.task("quick", total=1) as task:
            task.advance()
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert any(re.match(r"cellwak: kNN search: 50% \(2/4\) after \d+ s, about \d+ s left", line) for line in lines)
    assert "cellwak: kNN search: done in 0 s" in lines


def test_quick_steps_and_refusals_print_no_progress(cli):
    r = cli("cluster", "--rep", "X_nope")
    assert r.code == 2 and r.err.strip().splitlines() == [r.err.strip()] and "no representation 'X_nope'" in r.err


def test_long_silent_steps_are_announced_by_the_watchdog(monkeypatch, capsys):
    import time

    from cellwak.cli import _progress

    monkeypatch.setattr(_progress, "PLAIN_AFTER", 0.2)
    with _progress.CliProgress(terminal=False) as progress:
        with progress.task("representation", total=1) as task:
            time.sleep(1.0)  # a step that reports nothing until it is done
            task.advance()
    err = capsys.readouterr().err
    assert "cellwak: representation: 0% (0/1) after" in err and "representation: done in" in err


@pytest.fixture
def trained(cli, home, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp_path / "t.npy", rng.normal(size=(400, 8)).astype(np.float32))
    assert cli("data", "add", tmp_path / "t.npy", "--name", "t").code == 0
    r = cli("train", "ae", "-d", "t", "--epochs", "3", "--threads", "1", "--json")
    assert r.code == 0, r.err
    return r.json()["run_id"]


def test_runs_export_writes_the_metrics_stream(cli, home, trained, tmp_path):
    import pandas as pd

    from cellwak.runs import RunStore
    from cellwak.store import Workspace

    out = tmp_path / "m.csv"
    r = cli("runs", "export", trained, "--csv", out, "--json")
    assert r.code == 0, r.err
    frame = pd.read_csv(out)
    stored = RunStore(Workspace(home)).metrics(trained)
    assert len(frame) == len(stored) == r.json()["rows"] > 0
    assert list(frame.columns) == ["run", "scope", "stage", "epoch", "step", "name", "value", "time"]
    assert set(frame["scope"]) == {"step", "epoch"} and frame.loc[frame["name"] == "test/loss", "value"].notna().all()
    assert cli("runs", "export", trained, "--csv", out).code == 2  # exists, no --force
    assert cli("runs", "export", trained, "--csv", tmp_path / "m.txt").code == 2
    assert cli("runs", "export", trained, "--csv", out, "--force").code == 0


def test_runs_show_gives_progress_and_eta_of_a_running_run(cli, home, trained):
    import os
    import time

    from cellwak.api.runs import show_run
    from cellwak.runs import RunStore
    from cellwak.runs.store import process_identity
    from cellwak.store import Workspace

    ws = Workspace(home)
    store = RunStore(ws)
    done = store.get(trained)
    pid, started = process_identity(os.getpid())
    row = store.create({"model": "ae", "dataset": "t", "params": done["params"], "seed": 0, "nproc": 1})
    store.update(row["id"], {"status": "running", "pid": pid, "pid_started": started, "heartbeat": time.time(),
                             "info": {"steps_per_epoch": 10, "stages": [{"name": "fit", "epochs": 5}]}, "step": 20,
                             "stage": "fit", "epoch": 2})
    t0 = time.time() - 10.0
    store.add_metrics([(row["id"], "step", "fit", 1, s, "train/loss", 1.0, t0 + s * 0.5) for s in range(1, 21)])
    shown = show_run(ws, row["id"])["progress"]
    assert shown["total_steps"] == 50 and shown["done_steps"] == 20 and shown["fraction"] == 0.4
    assert shown["steps_per_second"] == pytest.approx(2.0) and shown["eta_seconds"] == pytest.approx(15.0)
    text = cli("runs", "show", row["id"]).out
    assert "progress: 20 of 50 steps (40%), about 15 s left at 2 steps/s" in text
    assert show_run(ws, trained)["progress"]["fraction"] == 1.0
