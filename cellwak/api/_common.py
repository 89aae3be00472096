"""What every workspace operation shares: the workspace argument, load-modify-save under the
dataset's lock, and turning results into plain dicts."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path

from ..jsonable import jsonable


def open_workspace(ws=None):
    """``ws`` as a :class:`cellwak.store.Workspace`: one already open, a folder (str or Path), or
    None for the default (``$CELLWAK_HOME`` or the platform's data folder)."""
    from ..store import Workspace

    if isinstance(ws, Workspace):
        return ws
    return Workspace(Path(ws) if ws is not None else None)


@contextmanager
def editing(ws, dataset: str):
    """Load ``dataset`` under its lock, yield it, and save it when the block succeeds: two
    commands that add results to one dataset at the same time run one after the other instead of
    one silently dropping the other's results."""
    with ws.dataset_lock(dataset):
        adata = ws.load(dataset)
        yield adata
        ws.save(dataset, adata)


class Result:
    """Base of operation results: a dataclass with ``to_dict()`` (plain, JSON-ready)."""

    def to_dict(self) -> dict:
        assert is_dataclass(self)
        return jsonable({k: v for k, v in asdict(self).items() if not k.startswith("_")})
