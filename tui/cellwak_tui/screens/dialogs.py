"""Dialogs shared by the screens: confirm, export a dataset, add a dataset."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DirectoryTree, Input, Label, Static

from cellwak import api

from ..base import ApiCalls
from ..widgets.text_input import TextInput


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to a question; Escape is no."""

    BINDINGS = [("escape", "dismiss(False)", "Cancel"), ("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str, yes: str = "Remove"):
        super().__init__()
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ExportScreen(ApiCalls, ModalScreen[str | None]):
    """Export a dataset to .h5ad (everything) or .csv (features, metadata, clusters)."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, home: str, dataset: str):
        super().__init__()
        self.home, self.dataset = home, dataset

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Export dataset {self.dataset}", classes="dialog-title")
            yield TextInput(value=str(Path.cwd() / f"{self.dataset}.h5ad"), id="export-path",
                            placeholder="file to write (.h5ad or .csv)")
            yield Checkbox("replace the file if it exists", id="export-force")
            yield Static("", id="export-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        self.query_one("#export-error", Static).update("exporting...")
        self.call_api(api.export_dataset, self.home, self.dataset, self.query_one("#export-path", Input).value.strip(),
                      force=self.query_one("#export-force", Checkbox).value,
                      done=lambda out: self.dismiss(f"wrote {out.out} ({out.bytes:,} bytes)"), failed=self._failed)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#export", Button).press()

    def _failed(self, message: str) -> None:
        self.query_one("#export-error", Static).update(message)


class AddDatasetScreen(ApiCalls, ModalScreen[str | None]):
    """Add a data file as a dataset: a path (typed, or picked in the tree), a name and a label
    column; the reader's one-line refusal appears in the form and the workspace is unchanged."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, home: str, start: str | Path | None = None):
        super().__init__()
        self.home, self.start = home, Path(start or Path.cwd())

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Add a dataset", classes="dialog-title")
            yield TextInput(placeholder="path of a data file: csv, tsv, parquet, fcs, h5ad, h5, npz, tiff, png folder, idx",
                            id="add-path")
            yield DirectoryTree(self.start, id="add-picker")
            with Horizontal(classes="form-row"):
                yield TextInput(placeholder="name (default: the file name)", id="add-name")
                yield TextInput(placeholder="label column (optional)", id="add-label")
                yield TextInput(placeholder="batch column (optional)", id="add-batch")
            yield Static("", id="add-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add", variant="primary", id="add")
                yield Button("Cancel", id="cancel")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#add-path", Input).value = str(event.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#add", Button).press()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        path = self.query_one("#add-path", Input).value.strip()
        if not path:
            self._failed("give the path of a data file (type it, or pick it in the tree)")
            return
        value = lambda wid: self.query_one(wid, Input).value.strip() or None
        options = api.ReadOptions(label=value("#add-label"), batch=value("#add-batch"))
        self.query_one("#add-error", Static).update(f"reading {path} ...")
        self.query_one("#add", Button).disabled = True
        self.call_api(api.add_dataset, self.home, path, name=value("#add-name"), options=options,
                      done=lambda summary: self.dismiss(summary.name), failed=self._failed)

    def _failed(self, message: str) -> None:
        self.query_one("#add-error", Static).update(message)
        self.query_one("#add", Button).disabled = False
