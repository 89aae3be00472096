"""Dashboard, datasets screen: the catalog, details with crops, add through the form (and a bad
file refused in the form with the CLI's own line, the workspace unchanged), export, remove."""

from __future__ import annotations

from pathlib import Path

import pytest

from cellwak_tui.app import CellwakApp

from cellwak import api
from tests.conftest import snapshot
from tests.tui.conftest import pilot, rows, text_of, until


@pilot
async def test_the_table_lists_the_workspace_and_details_show_labels_and_crops(blood_home):
    app = CellwakApp(str(blood_home))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: rows(app, "#datasets-table"), what="the datasets table")
        table = rows(app, "#datasets-table")
        assert table[0][:5] == ["blood", "2,400", "2,352", "builtin", "label"]
        assert table[0][7] == "1"  # one clustering
        await until(pilot, lambda: "basophil" in text_of(app, "#dataset-summary"), what="the details")
        summary = text_of(app, "#dataset-summary")
        assert "8 values" in summary and "12.5%" in summary
        await until(pilot, lambda: app.screen.query(".crop-image"), what="the crops")
        assert "16 of 2,400 crops" in text_of(app, "#dataset-crops .crop-caption")


async def _add_through_form(app, pilot, path: Path, name: str):
    await pilot.press("a")
    await until(pilot, lambda: app.screen.query("#add-path"), what="the add form")
    app.screen.query_one("#add-path").value = str(path)
    app.screen.query_one("#add-name").value = name
    app.screen.query_one("#add-label").value = "type"
    await pilot.click("#add")


@pilot
async def test_a_dataset_added_through_the_form_is_in_the_catalog_and_the_table(home, table_csv):
    app = CellwakApp(str(home))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "No datasets yet" in text_of(app, "#dataset-summary"), what="the empty workspace")
        await _add_through_form(app, pilot, table_csv, "screen1")
        await until(pilot, lambda: [r[0] for r in rows(app, "#datasets-table")] == ["screen1"], what="the new row")
        assert rows(app, "#datasets-table")[0][1:5] == ["90", "5", "csv", "type"]
    listed = api.list_datasets(home).datasets
    assert [d.name for d in listed] == ["screen1"] and listed[0].label_column == "type"


@pilot
async def test_a_bad_file_is_refused_in_the_form_with_the_cli_line_and_nothing_changes(blood_home, tmp_path, cli):
    bad = tmp_path / "words.csv"
    bad.write_text("a,b\nx,y\nz,w\n")  # no numeric column: not a feature table
    before = snapshot(blood_home)
    refused = cli("data", "add", bad, "--name", "words", "--label", "type")
    assert refused.code == 2
    cli_line = refused.err.strip().removeprefix("cellwak: error: ")
    assert snapshot(blood_home) == before
    app = CellwakApp(str(blood_home))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: rows(app, "#datasets-table"), what="the table")
        await _add_through_form(app, pilot, bad, "words")
        await until(pilot, lambda: "error" not in text_of(app, "#add-error") and "reading" not in
                    text_of(app, "#add-error") and text_of(app, "#add-error"), what="the inline error")
        shown = " ".join(text_of(app, "#add-error").split())
        assert shown == " ".join(cli_line.split())
        assert app.screen.query_one("#add").disabled is False  # the form stays open to fix the path
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.query("#datasets-table"), what="the datasets screen")
    assert snapshot(blood_home) == before


@pilot
async def test_an_empty_path_is_refused_in_the_form(home):
    app = CellwakApp(str(home))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#add"), what="the form")
        await pilot.click("#add")
        assert "give the path" in text_of(app, "#add-error")
    assert api.list_datasets(home).datasets == []


@pytest.mark.slow  # an export of 2,400 crops and a removal: about 10 s
@pilot
async def test_export_writes_the_file_and_remove_asks_first(blood_home, tmp_path):
    out = tmp_path / "blood.csv"
    app = CellwakApp(str(blood_home))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: rows(app, "#datasets-table"), what="the table")
        await pilot.press("x")
        await until(pilot, lambda: app.screen.query("#export-path"), what="the export form")
        app.screen.query_one("#export-path").value = str(out)
        await pilot.click("#export")
        await until(pilot, lambda: out.exists() and app.screen.query("#datasets-table"), what="the export")
        await pilot.press("delete")
        await until(pilot, lambda: app.screen.query("#no"), what="the confirmation")
        await pilot.press("escape")  # cancelled: nothing removed
        await until(pilot, lambda: app.screen.query("#datasets-table"), what="the datasets screen")
        assert [d.name for d in api.list_datasets(blood_home).datasets] == ["blood"]
        await pilot.press("delete")
        await until(pilot, lambda: app.screen.query("#yes"), what="the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: not api.list_datasets(blood_home).datasets, timeout=60, what="the removal")
        await until(pilot, lambda: not rows(app, "#datasets-table"), what="the empty table")
    assert out.read_text().splitlines()[0].count(",") > 2300  # every feature written
