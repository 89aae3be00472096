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


def recorded_clustering(ws, dataset: str, clustering_id: int | None, *, alternative: str = "") -> dict:
    """The catalog row of clustering ``clustering_id`` (default: the dataset's latest), refused
    with one line when the dataset has none or the clustering belongs to another dataset."""
    from ..errors import InputError, short_list

    if clustering_id is None:
        rows = ws.clusterings(dataset)
        if not rows:
            raise InputError(f"dataset {dataset!r} has no clustering yet",
                             f"run `cellwak cluster -d {dataset}` first{alternative}")
        return rows[-1]
    record = ws.clustering(clustering_id)
    if record["dataset"] != dataset:
        own = [str(r["id"]) for r in ws.clusterings(dataset)]
        mine = f"; this dataset's clusterings: {short_list(own)}" if own else ""
        raise InputError(f"clustering #{record['id']} belongs to dataset {record['dataset']!r}, not {dataset!r}",
                         f"pass --dataset {record['dataset']}{mine}")
    return record


class Result:
    """Base of operation results: a dataclass with ``to_dict()`` (plain, JSON-ready)."""

    def to_dict(self) -> dict:
        assert is_dataclass(self)
        return jsonable({k: v for k, v in asdict(self).items() if not k.startswith("_")})


def sweep_threshold(block: list[dict], auto: dict | None = None) -> float | None:
    """The stability rule's threshold of a recorded sweep: on its rows (``rule_threshold``, None when
    another --rule chose) or, for sweeps recorded before it was kept there, in the evidence of the
    ``--gamma auto`` clustering ``auto`` that the sweep chose for."""
    for r in block:
        value = (r.get("params") or {}).get("rule_threshold")
        if value is not None:
            return float(value)
    value = (((auto or {}).get("params") or {}).get("evidence") or {}).get("threshold")
    return None if value is None else float(value)
