"""Dashboard, runs screen: start a training run through the form (detached), watch its epoch
advance and its loss curve and log fill, cancel it; a bad setting is refused in the form."""

from __future__ import annotations

import threading
import time

import pytest
from cellwak_tui.app import CellwakApp
from cellwak_tui.screens import runs as runs_screen

from cellwak import api
from tests.tui.conftest import pilot, rows, text_of, until


async def _open_form(app, pilot):
    await pilot.press("n")
    await until(pilot, lambda: app.screen.query("#run-model") and
                app.screen.query_one("#run-model")._options[1:], what="the models in the form")


@pilot
async def test_the_table_fills_when_one_read_of_the_catalog_outlasts_the_poll_interval(blood_home, monkeypatch):
    """On a machine busy with the training itself one read can take longer than the 1 s poll; a
    new poll must then wait for it, not replace it (the table would stay empty for ever)."""
    original, calls, lock = runs_screen.RunsScreen._snapshot, [], threading.Lock()

    def slow(home, run_id):
        with lock:
            calls.append(time.monotonic())
        time.sleep(3 * runs_screen.POLL_SECONDS)
        return original(home, run_id)

    monkeypatch.setattr(runs_screen, "POLL_SECONDS", 0.2)
    monkeypatch.setattr(runs_screen.RunsScreen, "_snapshot", staticmethod(slow))
    app = CellwakApp(str(blood_home), dataset="blood", mode="runs")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "No training runs yet" in text_of(app, "#run-summary"), timeout=10,
                    what="the first read shown")
        started = time.monotonic()
        await pilot.pause(12 * runs_screen.POLL_SECONDS)
        during = sum(1 for t in calls if t >= started)
    assert during <= 6, f"{during} reads started in 12 poll intervals, each read 3 intervals long: they pile up"


@pytest.mark.slow  # a detached training process: about 20 s
@pilot
async def test_a_run_started_in_the_form_advances_and_is_cancelled(blood_home):
    app = CellwakApp(str(blood_home), dataset="blood", mode="runs")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "No training runs yet" in text_of(app, "#run-summary"), what="the empty screen")
        await _open_form(app, pilot)
        app.screen.query_one("#run-model").value = "ae"
        await until(pilot, lambda: app.screen.query("#set-latent"), what="the model's settings")
        app.screen.query_one("#set-latent").value = "4"
        app.screen.query_one("#run-epochs").value = "400"
        app.screen.query_one("#run-seed").value = "3"
        await pilot.click("#start")
        await until(pilot, lambda: api.list_runs(blood_home), timeout=20, what="the run record")
        run = api.list_runs(blood_home)[0]
        assert run["model"] == "ae" and run["dataset"] == "blood"
        shown = api.show_run(blood_home, run["id"])
        assert shown["params"]["model"]["latent"] == 4 and shown["seed"] == 3  # the form's settings were used
        # the table follows the run: its epoch advances while it trains
        try:
            await until(pilot, lambda: rows(app, "#runs-table") and rows(app, "#runs-table")[0][5].isdigit()
                        and int(rows(app, "#runs-table")[0][5]) >= 2, timeout=90, what="epoch 2 in the table")
        except AssertionError as exc:  # say whether the run or the table was behind
            row = api.show_run(blood_home, run["id"])
            raise AssertionError(f"{exc}; table {rows(app, '#runs-table')}; run {row['status']} epoch {row['epoch']}; "
                                 f"log: {api.run_log(blood_home, run['id']).to_dict()['log'][-800:]}") from None
        assert "running" in rows(app, "#runs-table")[0][3]
        await until(pilot, lambda: "fit" in text_of(app, "#run-summary") and "left" in text_of(app, "#run-summary"),
                    timeout=30, what="the progress with time left")
        await pilot.press("c")
        await until(pilot, lambda: api.show_run(blood_home, run["id"])["status"] == "cancelled", timeout=60,
                    what="the cancelled run")
        await until(pilot, lambda: "cancelled" in rows(app, "#runs-table")[0][3], what="cancelled in the table")
        assert app.screen.query_one("#run-log").line_count > 0
    curves = api.run_curves(blood_home, run["id"])["curves"]
    assert len(curves["fit"]["train/loss"]) >= 2


@pilot
async def test_a_bad_setting_is_refused_in_the_form_and_no_run_is_recorded(blood_home):
    app = CellwakApp(str(blood_home), dataset="blood", mode="runs")
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_form(app, pilot)
        app.screen.query_one("#run-model").value = "ae"
        await until(pilot, lambda: app.screen.query("#set-latent"), what="the model's settings")
        app.screen.query_one("#set-latent").value = "eight"
        await pilot.click("#start")
        assert text_of(app, "#run-error") == "latent must be a whole number, got 'eight'"
        app.screen.query_one("#set-latent").value = "8"
        app.screen.query_one("#run-rep").value = "X_missing"
        await pilot.pause(0.5)  # a button ignores a second press within its press effect
        await pilot.click("#start")
        await until(pilot, lambda: "X_missing" in text_of(app, "#run-error"), what="the API's refusal")
    assert api.list_runs(blood_home) == []


@pytest.mark.slow  # one epoch of the image classifier on the 2,400 built-in crops: about 30 s
@pilot
async def test_the_image_classifier_trains_from_the_form_and_reports_its_f1(blood_home):
    app = CellwakApp(str(blood_home), dataset="blood", mode="runs")
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_form(app, pilot)
        app.screen.query_one("#run-model").value = "cnn"
        await until(pilot, lambda: app.screen.query("#set-arch"), what="the classifier's settings")
        app.screen.query_one("#set-width").value = "8"
        app.screen.query_one("#run-epochs").value = "1"
        await pilot.click("#start")
        await until(pilot, lambda: api.list_runs(blood_home), timeout=20, what="the run record")
        run_id = api.list_runs(blood_home)[0]["id"]
        await until(pilot, lambda: api.show_run(blood_home, run_id)["status"] in ("done", "failed"), timeout=150,
                    what="the finished run")
    shown = api.show_run(blood_home, run_id)
    assert shown["status"] == "done", shown.get("error")
    assert shown["params"]["model"]["width"] == 8
    curves = api.run_curves(blood_home, run_id)["curves"]["fit"]
    assert 0 < curves["test/f1_macro"][-1] <= 1, curves.keys()


@pilot
async def test_an_unknown_architecture_is_refused_in_the_form(blood_home):
    app = CellwakApp(str(blood_home), dataset="blood", mode="runs")
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_form(app, pilot)
        app.screen.query_one("#run-model").value = "cnn"
        await until(pilot, lambda: app.screen.query("#set-arch"), what="the classifier's settings")
        app.screen.query_one("#set-arch").value = "vgg"
        await pilot.click("#start")
        await until(pilot, lambda: "vgg" in text_of(app, "#run-error"), what="the API's refusal")
    assert api.list_runs(blood_home) == []
