"""Figures of a workspace dataset (``cellwak plot KIND``): load what the figure shows (a recorded
clustering, a sweep as recorded in the catalog, a training run's metrics), draw it with
:mod:`cellwak.pl` (R through rpy2) into one file, and change nothing in the workspace.

Light at import (no NumPy): the command line reads :class:`PlotConfig` and :data:`KINDS` at start-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..backends.r import FIGURES
from ..errors import InputError, short_list
from ..progress import NULL
from ._common import Result, open_workspace, recorded_clustering, sweep_threshold
from .config import _Config

KINDS = tuple(FIGURES)    # embedding heatmap enrichment string sweep loss composition montage
FORMATS = ("png", "pdf", "svg")
USES_COLOR_BY = {"embedding": "the obs column or feature that colours the cells (default: the clusters)",
                 "enrichment": "the obs column whose values are tested (default: the dataset's labels)",
                 "composition": "the batch or sample column (default: the dataset's batch column)"}
CLUSTER = "cluster"   # the obs column the recorded clustering is drawn from (in memory only)


@dataclass
class PlotConfig(_Config):
    """``cellwak plot KIND``: what to draw and where."""

    out: str = ""                     # .png, .pdf or .svg (overwritten when it exists)
    clustering: int | None = None     # default: the dataset's latest clustering (sweep: its latest sweep)
    run: int | None = None            # loss: the training run (default: the dataset's latest)
    color_by: str | None = None       # embedding, enrichment, composition (see USES_COLOR_BY)
    width: float | None = None        # inches (default: sized to the content)
    height: float | None = None
    dpi: int = 150                    # PNG resolution
    title: str | None = None          # default: dataset, clustering or run

    def check(self, kind: str) -> None:
        if kind not in KINDS:
            raise InputError(f"unknown figure {kind!r}", f"choose one of: {', '.join(KINDS)}")
        if not self.out:
            raise InputError("no output file given", "name it with --out FILE.png (or .pdf, .svg)")
        suffix = Path(self.out).suffix.lower().lstrip(".")
        if suffix not in FORMATS:
            raise InputError(f"cannot write a figure to {Path(self.out).name!r}", "use a file name ending in .png, .pdf or .svg")
        if not Path(self.out).expanduser().parent.is_dir():
            raise InputError(f"folder {Path(self.out).expanduser().parent} does not exist", "create it first or choose another --out")
        for name, top in (("width", 100), ("height", 100), ("dpi", 2400)):
            value = getattr(self, name)
            if value is not None and not 0 < value <= top:
                raise InputError(f"--{name} must be above 0 and at most {top}, got {value:g}")
        if self.color_by is not None and kind not in USES_COLOR_BY:
            raise InputError(f"--color-by does not apply to the {kind} figure",
                             f"remove it (it applies to: {', '.join(USES_COLOR_BY)})")
        if self.run is not None and kind != "loss":
            raise InputError(f"--run does not apply to the {kind} figure", "remove it (it applies to loss)")
        if self.clustering is not None and kind == "loss":
            raise InputError("--clustering does not apply to the loss figure", "remove it, or give --run ID")


@dataclass
class PlotOutcome(Result):
    path: str                 # the figure file (absolute)
    kind: str
    dataset: str
    format: str               # png | pdf | svg
    bytes: int
    clustering_id: int | None
    run_id: int | None
    color_by: str | None
    title: str
    r_mode: str               # inprocess | child: where R ran
    r_seconds: float          # R's part (conversion and drawing)
    seconds: float            # everything (loading the dataset, the summaries, R)


def plot(ws, dataset: str, kind: str, config: PlotConfig | None = None, progress=NULL) -> PlotOutcome:
    """Draw figure ``kind`` (:data:`KINDS`) of ``dataset`` into ``config.out``; writes only that file."""
    from .. import pl
    from ..backends.r import INSTALL_HINT, figure_available

    t0 = time.perf_counter()
    config = config or PlotConfig()
    config.check(kind)
    why = figure_available()
    if why is not None:
        raise InputError(f"{why}; cellwak's figures are drawn by R", INSTALL_HINT)
    ws = open_workspace(ws)
    ws.dataset(dataset)
    out = Path(config.out).expanduser().resolve()
    common = {"out": out, "width": config.width, "height": config.height, "dpi": config.dpi}
    clustering_id = run_id = None
    color_by = config.color_by
    with progress.task(f"plot {kind}", total=1) as task:
        if kind == "loss":
            run_id, title, metrics = _run_metrics(ws, dataset, config.run)
            pl.loss(metrics, title=config.title or title, **common)
        elif kind == "sweep":
            clustering_id, title, table, chosen, rule, threshold = _recorded_sweep(ws, dataset, config.clustering)
            pl.sweep(table, chosen=chosen, rule=rule, threshold=threshold, title=config.title or title, **common)
        else:
            record = recorded_clustering(ws, dataset, config.clustering)
            clustering_id = int(record["id"])
            adata = _with_clustering(ws, dataset, record)
            title = config.title or f"{dataset}: clustering #{clustering_id} ({record['n_clusters']} clusters)"
            color_by = _draw_clustering(pl, kind, adata, record, color_by, title, common)
        task.advance()
    from ..pl._figures import last_render

    drawn = last_render()
    return PlotOutcome(path=str(out), kind=kind, dataset=dataset, format=out.suffix.lstrip(".").lower(),
                       bytes=out.stat().st_size, clustering_id=clustering_id, run_id=run_id, color_by=color_by,
                       title=config.title or title, r_mode=drawn.get("mode", ""),
                       r_seconds=drawn.get("seconds", 0.0), seconds=round(time.perf_counter() - t0, 3))


def _with_clustering(ws, dataset: str, record: dict):
    """The dataset in memory with the recorded clustering as ``obs['cluster']`` (never saved)."""
    import pandas as pd

    adata = ws.load(dataset)
    labels = ws.clustering_labels(record["id"])
    if len(labels) != adata.n_obs:
        raise InputError(f"clustering #{record['id']} has {len(labels)} labels but the dataset has {adata.n_obs} cells",
                         "cluster the dataset again")
    n = int(labels.max()) + 1 if len(labels) else 0
    adata.obs[CLUSTER] = pd.Categorical(labels.astype(str), categories=[str(i) for i in range(n)])
    return adata


def _draw_clustering(pl, kind: str, adata, record: dict, color_by, title: str, common: dict):
    info = adata.uns.get("cellwak", {}).get("dataset", {})
    if kind == "embedding":
        color_by = color_by or CLUSTER
        pl.embedding(adata, color_by, title=title, **common)
    elif kind == "heatmap":
        pl.heatmap(adata, CLUSTER, title=title, **common)
    elif kind == "composition":
        color_by = color_by or info.get("batch_key")
        if not color_by:
            raise InputError("the dataset has no batch column", "name the batch or sample column with --color-by COL")
        pl.composition(adata, CLUSTER, color_by, title=title, **common)
    elif kind == "enrichment":
        stored = adata.uns.get("cellwak_enrichment", {})
        color_by = color_by or (stored.get("params", {}) or {}).get("by") or info.get("label_key")
        if not color_by:
            raise InputError("no column to test", "name the condition column with --color-by COL (e.g. Condition)")
        pl.enrichment(adata, color_by, CLUSTER, title=title, **common)
    elif kind == "string":
        stored = adata.uns.get("cellwak_interactions")
        made_on = (stored or {}).get("params", {}).get("clustering_id") if isinstance(stored, dict) else None
        if isinstance(stored, dict) and made_on is not None and int(made_on) != int(record["id"]):
            raise InputError(f"the stored interactions were scored on clustering #{made_on}, not #{record['id']}",
                             f"pass --clustering {made_on}, or run `cellwak string --clustering {record['id']} ...` first")
        pl.string(adata, title=title, **common)
    elif kind == "montage":
        rep = (record.get("params") or {}).get("rep")
        pl.montage(adata, CLUSTER, rep=rep if rep and rep != "images" and rep in adata.obsm else None, title=title,
                   **common)
    return color_by


def _sweep_blocks(rows: list[dict]) -> list[list[dict]]:
    """The dataset's recorded sweeps: runs of consecutive 'leiden-sweep' rows, a new one starting
    where a gamma repeats or another process wrote the rows."""
    blocks, current, seen = [], [], set()
    for row in rows:
        if row.get("method") != "leiden-sweep":
            if current:
                blocks.append(current)
            current, seen = [], set()
            continue
        gamma = (row.get("params") or {}).get("gamma")
        writer = str(row.get("artifact", "")).rsplit("-p", 1)[-1]
        if current and (gamma in seen or writer != str(current[-1].get("artifact", "")).rsplit("-p", 1)[-1]):
            blocks.append(current)
            current, seen = [], set()
        current.append(row)
        seen.add(gamma)
    if current:
        blocks.append(current)
    return blocks


def _recorded_sweep(ws, dataset: str, clustering_id: int | None):
    """(id of the chosen clustering or the first sweep row, title, table, chosen gamma, rule, the
    rule's stability threshold or None) of the dataset's latest sweep, or of the one that holds or
    chose ``clustering_id``."""
    import pandas as pd

    rows = ws.clusterings(dataset)
    blocks = _sweep_blocks(rows)
    if not blocks:
        raise InputError(f"dataset {dataset!r} has no recorded sweep",
                         f"run `cellwak sweep -d {dataset}` or `cellwak cluster -d {dataset} --gamma auto` first")
    block = blocks[-1]
    if clustering_id is not None:
        recorded_clustering(ws, dataset, clustering_id)
        ids = [r["id"] for r in rows]
        position = ids.index(int(clustering_id))
        holder = [b for b in blocks if any(r["id"] == int(clustering_id) for r in b)]
        before = [b for b in blocks if position > 0 and b[-1]["id"] == ids[position - 1]]
        if holder:
            block = holder[0]
        elif before and rows[position].get("method") == "leiden":
            block = before[0]
        else:
            own = [str(b[0]["id"]) for b in blocks]
            raise InputError(f"clustering #{clustering_id} is not part of a sweep",
                             f"pass the id of a swept resolution (e.g. {short_list(own)}) or leave --clustering out")
    records = []
    for r in block:
        params = r.get("params") or {}
        records.append({"gamma": params.get("gamma"), "n_clusters": r.get("n_clusters"),
                        **{k: v for k, v in (params.get("evidence") or {}).items() if k != "n_clusters"},
                        **(r.get("metrics") or {})})
    table = pd.DataFrame.from_records(records)
    chosen_rows = [r for r in block if (r.get("params") or {}).get("chosen")]
    chosen = (chosen_rows[0]["params"]["gamma"]) if chosen_rows else None
    rule = (block[0].get("params") or {}).get("rule")
    first = int(chosen_rows[0]["id"] if chosen_rows else block[0]["id"])
    title = f"{dataset}: sweep of {len(block)} resolutions (clusterings #{block[0]['id']}-#{block[-1]['id']})"
    return first, title, table, chosen, rule, _sweep_threshold(rows, block)


def _sweep_threshold(rows: list, block: list) -> float | None:
    """The stability rule's threshold of ``block`` (:func:`._common.sweep_threshold`), with the
    clustering `--gamma auto` made right after it as the fallback for older records."""
    after = [r["id"] for r in rows].index(block[-1]["id"]) + 1
    auto = rows[after] if after < len(rows) and rows[after].get("method") == "leiden" else None
    return sweep_threshold(block, auto)


def _run_metrics(ws, dataset: str, run_id: int | None):
    """(run id, title, its metrics as a DataFrame) of ``run_id`` or the dataset's latest run."""
    import pandas as pd

    from ..runs import RunStore

    store = RunStore(ws)
    if run_id is None:
        runs = [r for r in store.list(refresh=False) if r["dataset"] == dataset]
        if not runs:
            raise InputError(f"dataset {dataset!r} has no training run",
                             f"train one (`cellwak train deepwak -d {dataset}`) or pass --run ID")
        row = runs[-1]
    else:
        row = store.get(run_id, refresh=False)
        if row["dataset"] != dataset:
            raise InputError(f"run #{row['id']} trained on dataset {row['dataset']!r}, not {dataset!r}",
                             f"pass --dataset {row['dataset']}")
    metrics = pd.DataFrame(store.metrics(row["id"], scope="epoch"))
    if metrics.empty:
        raise InputError(f"run #{row['id']} has recorded no epoch yet", f"see `cellwak runs show {row['id']}`")
    return int(row["id"]), f"{row['model']} run #{row['id']} on {dataset} ({row['status']})", metrics
