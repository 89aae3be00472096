"""A table filled in one call, each column exactly as wide as its widest cell.

Why not DataTable's own auto width: Textual (8.2) measures auto-width columns on an idle event
after rows are added, but caches each painted line under a counter that this measurement does not
advance. A frame painted between ``add_row`` and that idle event stays on screen afterwards with
every column at its label's width ("blood" cut to "bloo"). It needs a loaded machine to be seen,
which is how the snapshot tests caught it. Widths computed before the rows go in leave nothing to
measure later, so no stale frame exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable


def _text(cell: object) -> Text:
    if isinstance(cell, Text):
        return cell
    return Text.from_markup(cell if isinstance(cell, str) else str(cell), end="")


class Table(DataTable):
    """``Table("Name", "Cells", id=...)``; ``fill(rows, keys)`` replaces every row at once."""

    def __init__(self, *columns: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.labels = tuple(columns)

    def on_mount(self) -> None:
        if not self.columns:
            self.fill([])

    def fill(self, rows: Iterable[Sequence[object]], keys: Sequence[str] | None = None) -> None:
        """Replace the table's rows (cells: str with Rich markup, numbers or Text). The cursor goes
        back to the first row, as after ``DataTable.clear``."""
        texts = [[_text(c) for c in row] for row in rows]
        if any(len(row) != len(self.labels) for row in texts):
            raise ValueError(f"every row of {self.id or 'the table'} needs {len(self.labels)} cells")
        self.clear(columns=True)
        for i, label in enumerate(self.labels):
            width = max([Text(label).cell_len] + [row[i].cell_len for row in texts])
            self.add_column(label, width=width, key=label)
        for n, row in enumerate(texts):
            self.add_row(*row, key=None if keys is None else keys[n])
