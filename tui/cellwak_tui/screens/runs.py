"""The runs screen: every training run with live status, epoch, loss and time left (whoever
started it: this dashboard, another one, or the command line), a loss curve per stage, a log
that follows, and start, cancel and resume."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Log, Static

from cellwak import api

from ..base import ApiScreen
from ..text import duration, number
from ..widgets.charts import LossPlot
from ..widgets.table import Table
from .run_form import StartRunScreen

COLUMNS = ("Run", "Model", "Dataset", "Status", "Stage", "Epoch", "Test loss", "Left")
POLL_SECONDS = 1.0
LOG_LINES = 400


class RunsScreen(ApiScreen):
    TITLE = "Training runs"
    BINDINGS = [("n", "new_run", "New run"), ("c", "cancel_run", "Cancel"), ("r", "resume_run", "Resume"),
                ("f5", "poll", "Reload")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="runs-body"):
            with Vertical(id="runs-left"):
                yield Table(*COLUMNS, id="runs-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="run-summary")
            with Vertical(id="runs-right"):
                yield LossPlot(id="loss-plot")
                yield Log(id="run-log", max_lines=LOG_LINES, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self._etas: dict[int, float | None] = {}
        self._log_run, self._log_text = None, ""
        self._poll, self._poll_again = None, False
        self.action_poll()
        self.set_interval(POLL_SECONDS, self.action_poll)

    @property
    def selected(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    # -- polling the catalog --------------------------------------------------------------
    def action_poll(self) -> None:
        """Read the catalog again, unless a read is still under way: then once more when it
        ends. (A new read must not replace one in flight: on a machine busy with the training
        itself one read can take longer than the poll interval, and the table would never fill.)"""
        if self.app.screen is not self and self._log_run is not None:
            return  # hidden (another screen or a dialog on top): no polling until it shows again
        if self._poll is not None and not self._poll.is_finished:
            self._poll_again = True
            return
        self._poll_again = False
        self._poll = self.call_api(self._snapshot, self.home, self.selected, done=self._polled,
                                   failed=self._poll_failed, group="runs-poll", exclusive=False)

    def _polled(self, snapshot) -> None:
        self._poll = None
        self._show(snapshot)
        if self._poll_again:
            self.action_poll()

    def _poll_failed(self, message: str) -> None:
        self._poll = None
        self.show_error(message)

    @staticmethod
    def _snapshot(home, run_id):
        """Everything one refresh shows, read in the worker: the runs, and the selected run's
        progress, loss curves and log."""
        runs = api.list_runs(home)
        if run_id is None and runs:
            run_id = runs[-1]["id"]
        detail = curves = log = None
        if run_id is not None and any(r["id"] == run_id for r in runs):
            detail = api.show_run(home, run_id)
            curves = api.run_curves(home, run_id)["curves"]
            log = api.run_log(home, run_id).to_dict()["log"]
        return runs, detail, curves, log

    def _show(self, snapshot) -> None:
        runs, detail, curves, log = snapshot
        table = self.query_one(Table)
        keep = self.selected if table.row_count else (detail["run_id"] if detail else None)
        if detail and detail.get("progress"):
            self._etas[detail["run_id"]] = detail["progress"].get("eta_seconds")
        table.fill([self._row(r) for r in runs], keys=[str(r["id"]) for r in runs])
        if runs:
            ids = [r["id"] for r in runs]
            table.move_cursor(row=ids.index(keep) if keep in ids else len(ids) - 1, animate=False)
        else:
            self.query_one("#run-summary", Static).update("No training runs yet. Press [b]n[/] to start one.")
        if detail:
            self._detail(detail, curves or {}, log or "")
        elif not runs:
            self.query_one(LossPlot).show({}, "no run yet")

    def _row(self, r: dict) -> tuple:
        eta = self._etas.get(r["id"]) if r["status"] in ("queued", "running") else None
        status = {"running": "[green]running[/]", "failed": "[red]failed[/]",
                  "cancelled": "[yellow]cancelled[/]"}.get(r["status"], r["status"])
        return (str(r["id"]), r["model"], r["dataset"], status, r["stage"] or "",
                "" if r["epoch"] is None else str(r["epoch"]), number(r["test_loss"], 4), duration(eta))

    def _detail(self, d: dict, curves: dict, log: str) -> None:
        p = d.get("progress") or {}
        frac = p.get("fraction")
        lines = [f"[b]run {d['run_id']}[/]  {d['model']} on {d['dataset']}  [b]{d['status']}[/]",
                 f"stage {d.get('stage') or '-'}  epoch {d.get('epoch') if d.get('epoch') is not None else '-'}"
                 f"  step {d.get('step') or 0}" + (f" of {p['total_steps']}" if p.get("total_steps") else ""),
                 (f"{100 * frac:.0f}% done" if frac is not None else "")
                 + (f", {duration(p['eta_seconds'])} left" if p.get("eta_seconds") else "")
                 + (f" at {p['steps_per_second']:.3g} steps/s" if p.get("steps_per_second") else ""),
                 f"device {d.get('device') or '-'}  seed {d.get('seed')}  threads {d.get('threads') or '-'}"]
        if d.get("error"):
            lines.append(f"[red]{d['error']}[/]")
        self.query_one("#run-summary", Static).update("\n".join(lines))
        self.query_one(LossPlot).show(curves, f"run {d['run_id']} loss")
        logview = self.query_one(Log)
        if self._log_run != d["run_id"] or not log.startswith(self._log_text):
            logview.clear()
            self._log_run, self._log_text = d["run_id"], ""
        new = log[len(self._log_text):]
        if new:
            logview.write(new)
            self._log_text = log

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_poll()

    # -- actions --------------------------------------------------------------------------
    def action_new_run(self) -> None:
        def started(run):
            if run:
                self.notify(f"run {run['run_id']} started ({run['model']} on {run['dataset']})")
                self._log_run = None
                self.action_poll()

        self.app.push_screen(StartRunScreen(self.home, self.app.dataset), started)

    def action_cancel_run(self) -> None:
        run_id = self.selected
        if run_id is not None:
            self.call_api(api.cancel_run, self.home, run_id, wait_seconds=0,
                          done=lambda r: self.notify(f"run {r['run_id']}: {r['status']}"), group="run-action")

    def action_resume_run(self) -> None:
        run_id = self.selected
        if run_id is not None:
            self.call_api(api.resume_run, self.home, run_id, detach=True,
                          done=lambda r: self.notify(f"run {r['run_id']} resumed"), group="run-action")
