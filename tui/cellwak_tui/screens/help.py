"""The help screen: what each screen is for and its keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# cellwak dashboard

The dashboard and the command line share one workspace: what one does, the other sees.

| Key | Everywhere |
|---|---|
| `1` `2` `3` | Datasets, Runs, Clusters |
| `ctrl+p` | command palette (every action by name) |
| `?` / `f1` | this help |
| `q` | quit (training runs keep running) |

| Key | Datasets |
|---|---|
| `a` | add a data file (form with a file picker) |
| `x` | export the selected dataset (.h5ad or .csv) |
| `delete` | remove the selected dataset (asks first) |
| `enter` | inspect its clusters |

| Key | Runs |
|---|---|
| `n` | start a training run (detached) |
| `c` | cancel the selected run (it checkpoints first) |
| `r` | resume a cancelled or failed run from its checkpoint |

| Key | Clusters |
|---|---|
| `g` | type a resolution (gamma), then `enter` |
| `a` | choose the resolution without labels (`auto`) |
| `k` `s` `m` | cluster table, sweep chart, map (layout) |
| `u` | compute a UMAP on the dataset's graph |
| `p` | write the R figure of the view shown (heatmap, sweep or map) to ./cellwak-figures/ |

Long work (clustering, a layout, enrichment) runs in the background: the screen stays live.
Press `escape` to close this help.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="help"):
            yield Markdown(HELP)
