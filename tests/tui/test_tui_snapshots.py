"""Snapshots of every screen of the dashboard at 80x24 and 160x48 (pytest-textual-snapshot:
the SVGs under __snapshots__ are the reference; `pytest --snapshot-update` after a deliberate
change, then look at them). The workspace lives at a fixed path: the screens show it; so under
pytest-xdist every test of this file runs on one worker (`--dist loadgroup`, as `make test` runs it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cellwak_tui.app import CellwakApp

from tests.tui.conftest import rows, settle, text_of, until

HOME = Path("/tmp/cellwak-tui-snapshots/home")
SIZES = [(80, 24), (160, 48)]


pytestmark = [pytest.mark.slow,  # about a minute: an auto clustering, a layout and 14 screens
              pytest.mark.xdist_group("tui-snapshots-fixed-home")]  # two workers would share HOME


@pytest.fixture(scope="module")
def snapshot_home(blood_template):
    """blood with a clustering at gamma 1, an auto one (with its sweep) and a PCA layout.

    Not UMAP: its SGD (numba, fastmath) follows another path on another CPU (the same seed gave
    another layout on another machine than on the one the reference was drawn on), so a UMAP
    screen cannot be a reference across machines. The map screen draws any layout the same way;
    UMAP itself is tested in tests/test_embed.py."""
    from cellwak import api

    shutil.rmtree(HOME, ignore_errors=True)
    shutil.copytree(blood_template, HOME)
    api.cluster(HOME, "blood", api.ClusterConfig(gamma="auto"))
    api.embed(HOME, "blood", api.EmbedConfig(method="pca"))
    yield HOME
    shutil.rmtree(HOME.parent, ignore_errors=True)


async def _settled(pilot, ready):
    await until(pilot, ready, what="the screen's content")
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_datasets_screen(snap_compare, snapshot_home, size):
    async def ready(pilot):
        await _settled(pilot, lambda: pilot.app.screen.query(".crop-image"))
    assert snap_compare(CellwakApp(str(snapshot_home)), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_clusters_screen(snap_compare, snapshot_home, size):
    async def ready(pilot):
        await _settled(pilot, lambda: pilot.app.screen.query(".crop-image")
                       and "cluster" in text_of(pilot.app, "#cluster-info"))
    assert snap_compare(CellwakApp(str(snapshot_home), dataset="blood", mode="clusters"), terminal_size=size,
                        run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab", ["sweep", "map"])
def test_clusters_tabs(snap_compare, snapshot_home, size, tab):
    async def ready(pilot):
        await _settled(pilot, lambda: rows(pilot.app, "#cluster-table")
                       and text_of(pilot.app, "#embedding-info") and text_of(pilot.app, "#sweep-info"))
        await pilot.press("s" if tab == "sweep" else "m")
        await settle(pilot)
    assert snap_compare(CellwakApp(str(snapshot_home), dataset="blood", mode="clusters"), terminal_size=size,
                        run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_screen(snap_compare, snapshot_home, size):
    async def ready(pilot):
        await _settled(pilot, lambda: "No training runs" in text_of(pilot.app, "#run-summary"))
    assert snap_compare(CellwakApp(str(snapshot_home), mode="runs"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, snapshot_home, size):
    async def ready(pilot):
        await _settled(pilot, lambda: rows(pilot.app, "#datasets-table"))
        await pilot.press("question_mark")
        await settle(pilot)
    assert snap_compare(CellwakApp(str(snapshot_home)), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_add_dataset_form(snap_compare, snapshot_home, size, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).parent / "picker")  # a fixed folder for the file picker

    async def ready(pilot):
        await _settled(pilot, lambda: rows(pilot.app, "#datasets-table"))
        await pilot.press("a")
        # the file picker's loader is a worker that never ends: wait for what it shows instead
        await until(pilot, lambda: pilot.app.screen.query_one("#add-picker").root.children, what="the folder")
        pilot.app.screen.query_one("#add-path").cursor_blink = False  # a blinking cursor is caught on or off
        await settle(pilot)
    assert snap_compare(CellwakApp(str(snapshot_home)), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_start_run_form(snap_compare, snapshot_home, size):
    async def ready(pilot):
        await _settled(pilot, lambda: "No training runs" in text_of(pilot.app, "#run-summary"))
        await pilot.press("n")
        await _settled(pilot, lambda: pilot.app.screen.query_one("#run-model")._options[1:])
        pilot.app.screen.query_one("#run-model").value = "dino"
        await _settled(pilot, lambda: pilot.app.screen.query("#set-width"))
    assert snap_compare(CellwakApp(str(snapshot_home), dataset="blood", mode="runs"), terminal_size=size,
                        run_before=ready)
