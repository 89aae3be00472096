"""The datasets screen: the workspace's catalog, a dataset's details (counts, label and batch
distributions, a grid of crops for image data), add, export and remove."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from cellwak import api

from ..base import ApiScreen
from ..text import count, distribution
from ..widgets.crops import CropGrid
from ..widgets.table import Table
from .dialogs import AddDatasetScreen, ConfirmScreen, ExportScreen

COLUMNS = ("Name", "Cells", "Features", "Format", "Label", "Batch", "Representations", "Clusterings")


class DatasetsScreen(ApiScreen):
    TITLE = "Datasets"
    BINDINGS = [("a", "add", "Add"), ("x", "export", "Export"), ("delete", "remove", "Remove"),
                ("enter", "inspect", "Clusters"), ("f5", "reload", "Reload")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="datasets-body"):
            yield Table(*COLUMNS, id="datasets-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="dataset-details"):
                yield Static("", id="dataset-summary")
                yield CropGrid(id="dataset-crops")
        yield Static("", id="builtin-hint", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # -- the catalog ----------------------------------------------------------------------
    def action_reload(self) -> None:
        self.call_api(api.list_datasets, self.home, details=True, done=self._fill, group="datasets")

    def _fill(self, listing) -> None:
        table = self.query_one(Table)
        keep = self.selected
        table.fill([(d.name, count(d.n_obs), count(d.n_vars), d.format, d.label_column or "-", d.batch_column or "-",
                     ", ".join(r.removeprefix("X_") for r in (d.representations or [])) or "-",
                     count(d.n_clusterings)) for d in listing.datasets],
                   keys=[d.name for d in listing.datasets])
        if listing.datasets:
            names = [d.name for d in listing.datasets]
            want = keep if keep in names else (self.app.dataset if self.app.dataset in names else names[0])
            table.move_cursor(row=names.index(want))
        else:
            self.query_one("#dataset-summary", Static).update(
                "No datasets yet. Press [b]a[/] to add a data file.")
        hint = ", ".join(b["name"] for b in listing.builtin_available)
        self.query_one("#builtin-hint", Static).update(
            f"Workspace {listing.home}" + (f"   built-in, not added yet: {hint} (type its name as the path to add it)"
                                           if hint else ""))

    @property
    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    # -- details --------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key is not None else None
        if name is None:
            return
        self.app.dataset = name
        self.query_one("#dataset-summary", Static).update(f"[b]{name}[/]  loading...")
        self.query_one(CropGrid).clear()
        self.call_api(api.show_dataset, self.home, name, add_builtin=False, done=self._details, group="details",
                      failed=self._details_failed)

    def _details(self, d) -> None:
        # the pane's share of the screen (app.tcss: 2fr of 5), not its size now: the same text whether
        # or not the layout has settled when the details arrive
        width = self.app.size.width * 2 // 5 - 7  # less padding, border and the scrollbar's reserved room
        lines = [f"[b]{d.name}[/]  {d.n_obs:,} cells x {d.n_vars:,} features  ({d.format})"]
        if d.source:
            lines.append(f"source  {d.source}")
        if d.image_shape:
            lines.append(f"crops   {' x '.join(str(s) for s in d.image_shape)}")
        if d.label_column:
            lines += [f"labels  [b]{d.label_column}[/] ({len(d.label_counts or {})} values)"]
            lines += distribution(d.label_counts, width=width)
        if d.batch_column:
            lines += [f"batches [b]{d.batch_column}[/] ({len(d.batch_counts or {})} values)"]
            lines += distribution(d.batch_counts, width=width)
        lines.append(f"representations  {', '.join(d.representations or []) or '(none yet)'}")
        lines.append(f"clusterings      {d.n_clusterings or 0}")
        for c in (d.clusterings or [])[-5:]:
            metrics = "  ".join(f"{k} {v}" for k, v in (c.get("metrics") or {}).items() if k in ("ari", "nmi"))
            lines.append(f"  #{c['id']:<4} {c['method']:<13} {c['n_clusters']:>4} clusters  {metrics}")
        self.query_one("#dataset-summary", Static).update("\n".join(lines))
        if d.image_shape:
            self.call_api(api.crops, self.home, d.name, n=16, add_builtin=False, done=self._crops, group="crops",
                          failed=self._details_failed)

    def _details_failed(self, message: str) -> None:
        """The dataset went away (removed here or by another command) or its file is damaged."""
        self.query_one("#dataset-summary", Static).update(f"[red]{message}[/]")

    def _crops(self, crops) -> None:
        self.query_one(CropGrid).show(crops, f"{len(crops.indices)} of {crops.n_cells:,} crops (random, seed 0)")

    # -- actions --------------------------------------------------------------------------
    def action_add(self) -> None:
        def added(name):
            if name:
                self.app.dataset = name
                self.notify(f"added dataset {name}")
                self.action_reload()

        self.app.push_screen(AddDatasetScreen(self.home), added)

    def action_export(self) -> None:
        if self.selected:
            self.app.push_screen(ExportScreen(self.home, self.selected),
                                 lambda msg: msg and self.notify(msg, timeout=8))

    def action_remove(self) -> None:
        name = self.selected
        if not name:
            return

        def confirmed(yes: bool) -> None:
            if yes:
                self.call_api(api.remove_dataset, self.home, name,
                              done=lambda r: (self.notify(f"removed {r.removed}"), self.action_reload()))

        self.app.push_screen(ConfirmScreen(f"Remove dataset {name}, its clusterings and stored results?"), confirmed)

    def action_inspect(self) -> None:
        if self.selected:
            self.app.dataset = self.selected
            self.app.switch_mode("clusters")
