"""The cellwak dashboard: ``cellwak tui``. Three screens (datasets, runs, clusters) over one
workspace, every operation through :mod:`cellwak.api` in thread workers."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from .commands import system_commands
from .screens.clusters import ClustersScreen
from .screens.datasets import DatasetsScreen
from .screens.help import HelpScreen
from .screens.runs import RunsScreen


class CellwakApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "cellwak"
    MODES = {"datasets": DatasetsScreen, "runs": RunsScreen, "clusters": ClustersScreen}
    BINDINGS = [
        Binding("1", "go('datasets')", "Datasets"),
        Binding("2", "go('runs')", "Runs"),
        Binding("3", "go('clusters')", "Clusters"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, home: str, dataset: str | None = None, mode: str = "datasets"):
        super().__init__()
        self.home, self.dataset, self._start_mode = str(home), dataset, mode

    def on_mount(self) -> None:
        self.sub_title = self.home
        self.switch_mode(self._start_mode)

    def go(self, mode: str, action: str | None = None) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)
        if action:
            self.call_after_refresh(lambda: self.screen.run_action(action))

    def action_go(self, mode: str) -> None:
        self.go(mode)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield from system_commands(self)


def run(home: str, dataset: str | None = None, protocol: str | None = None) -> None:
    """Start the dashboard in this terminal (``protocol``: how crops are drawn, see
    :func:`cellwak_tui.widgets.crops.set_protocol`)."""
    from .widgets.crops import set_protocol

    set_protocol(protocol)
    CellwakApp(home, dataset, mode="clusters" if dataset else "datasets").run()
