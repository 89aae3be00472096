"""The dashboard and a command-line training run on one workspace at the same time: the
dashboard polls the runs while it re-clusters the dataset the run will write its embedding
into. Nothing is lost or torn, nobody sees "database is locked", the workspace checks clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cellwak_tui.app import CellwakApp

from cellwak import api
from tests.tui.conftest import pilot, rows, text_of, until

pytestmark = pytest.mark.reliability

CELLWAK = Path(sys.executable).parent / "cellwak"
GAMMAS = (0.3, 0.6, 1.2)


@pilot
async def test_dashboard_and_cli_training_share_the_workspace(blood_home):
    train = subprocess.Popen([str(CELLWAK), "--home", str(blood_home), "--json", "train", "ae", "-d", "blood",
                              "--epochs", "40", "--threads", "1", "--latent", "4"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    app = CellwakApp(str(blood_home), dataset="blood", mode="runs")
    original = app.notify

    def notify(message, *args, **kwargs):
        if kwargs.get("severity") == "error":
            errors.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = notify
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            # the CLI's run appears in the dashboard and advances while the dashboard reads
            await until(pilot, lambda: rows(app, "#runs-table") and "running" in rows(app, "#runs-table")[0][3],
                        timeout=60, what="the CLI's run in the dashboard")
            await pilot.press("3")
            await until(pilot, lambda: rows(app, "#cluster-table"), what="the clusters screen")
            for gamma in GAMMAS:  # each one writes the dataset the run is training on
                app.screen.query_one("#cl-gamma").value = str(gamma)
                await pilot.pause(0.3)
                await pilot.click("#cl-run")
                await until(pilot, lambda g=gamma: f"gamma {g:g} " in text_of(app, "#cl-status")
                            and "clusters" in text_of(app, "#cl-status"), timeout=90, what=f"gamma {gamma}")
            await pilot.press("2")
            await until(pilot, lambda: train.poll() is not None, timeout=240, what="the end of the CLI run")
            await until(pilot, lambda: "done" in rows(app, "#runs-table")[0][3], timeout=20, what="done in the table")
    finally:
        if train.poll() is None:
            train.kill()
    out, err = train.communicate(timeout=30)
    assert train.returncode == 0, err[-2000:]
    assert "database is locked" not in err + out and not errors, (err[-1000:], errors)
    recorded = [c for c in api.list_clusterings(blood_home, "blood").clusterings if c["method"] == "leiden"]
    assert [c["gamma"] for c in recorded[-3:]] == list(GAMMAS)
    shown = api.show_dataset(blood_home, "blood")
    assert "X_ae" in shown.representations  # the run's result was saved, and so were the clusterings
    for c in recorded[-3:]:
        summary = api.show_clustering(blood_home, c["id"])
        assert sum(x["size"] for x in summary["clusters"]) == 2400
    run = api.list_runs(blood_home)[0]
    assert run["status"] == "done" and run["epoch"] == 40
    assert len(api.run_curves(blood_home, run["id"])["curves"]["fit"]["train/loss"]) == 40
    check = api.doctor(blood_home, workspace=True)
    assert check["ok"], check
