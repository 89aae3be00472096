"""The recorded clusterings of a workspace: list, show, remove, prune."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..progress import NULL
from ._common import Result, editing, open_workspace


def _short(c: dict) -> dict:
    p = c.get("params") or {}
    return {"id": c["id"], "dataset": c["dataset"], "method": c["method"], "key": c["key"], "gamma": p.get("gamma"),
            "k": p.get("k"), "n_clusters": c["n_clusters"], "metrics": c.get("metrics") or {},
            "chosen": p.get("chosen"), "created": c["created"]}


@dataclass
class ClusteringList(Result):
    clusterings: list


def list_clusterings(ws=None, dataset: str | None = None) -> ClusteringList:
    """Recorded clusterings (of one dataset, or all), oldest first."""
    ws = open_workspace(ws)
    if dataset is not None:
        ws.dataset(dataset, builtin_ok=False)
    return ClusteringList([_short(c) for c in ws.clusterings(dataset)])


def show_clustering(ws, clustering_id: int, progress=NULL) -> dict:
    """Everything recorded about one clustering (parameters, sizes, metrics, provenance) and, per
    cluster, what it is (:func:`cellwak.api.cluster_markers.cluster_summary`): size, unlabelled cells,
    the majority label's share among all its cells and among its labelled ones, the top markers
    with their direction, and the cells per batch. Writes nothing."""
    from ..errors import CellwakError
    from ..jsonable import jsonable
    from .cluster_markers import cluster_summary

    ws = open_workspace(ws)
    record = ws.clustering(clustering_id)
    try:
        summary = cluster_summary(ws, record, progress)
    except (CellwakError, OSError) as exc:  # a damaged dataset or labels file: the record is still worth showing
        summary = {"clusters": None, "summary_unavailable": str(exc)}
    return jsonable({**record, **summary})


@dataclass
class RemovedClusterings(Result):
    removed: list            # ids
    dropped_columns: dict    # dataset -> obs columns no clustering refers to any more, removed


def _drop_orphan_columns(ws, removed: list[dict]) -> dict:
    """The obs columns of removed clusterings that no remaining clustering records, dropped from
    their datasets; returns them per dataset."""
    dropped = {}
    for name in sorted({r["dataset"] for r in removed}):
        keep = {c["key"] for c in ws.clusterings(name)}
        gone = sorted({r["key"] for r in removed if r["dataset"] == name} - keep)
        if not gone:
            continue
        with editing(ws, name) as adata:
            for key in gone:
                if key in adata.obs:
                    del adata.obs[key]
                if key in adata.uns:
                    del adata.uns[key]
        dropped[name] = gone
    return dropped


def remove_clusterings(ws, ids) -> RemovedClusterings:
    """Remove recorded clusterings (catalog rows and label files), and the obs columns that no
    remaining clustering of their dataset records."""
    ws = open_workspace(ws)
    ids = [int(i) for i in ids]
    if not ids:
        raise InputError("no clustering id given", "see `cellwak clusters list`")
    rows = [ws.clustering(i) for i in ids]  # every id must exist before anything is removed
    ws.remove_clusterings(ids)
    return RemovedClusterings(removed=[r["id"] for r in rows], dropped_columns=_drop_orphan_columns(ws, rows))


def prune_clusterings(ws=None, dataset: str | None = None, *, keep_chosen: bool = True) -> RemovedClusterings:
    """Remove the resolutions of sweeps (``leiden-sweep`` rows) that their sweep did not choose
    (with ``keep_chosen=False``: every sweep row). ``cellwak cluster`` results are kept."""
    ws = open_workspace(ws)
    if dataset is not None:
        ws.dataset(dataset, builtin_ok=False)
    rows = [c for c in ws.clusterings(dataset) if c["method"] == "leiden-sweep"
            and not (keep_chosen and (c.get("params") or {}).get("chosen"))]
    ws.remove_clusterings([r["id"] for r in rows])
    return RemovedClusterings(removed=[r["id"] for r in rows], dropped_columns=_drop_orphan_columns(ws, rows))
