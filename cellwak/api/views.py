"""Small, capped views of a workspace for the dashboard and notebooks: a page of crops, a sample
of a 2-D layout, a run's loss curves, the resolution sweep behind a clustering, and what
``cellwak tui`` opens. Each reads only the rows it returns: nothing here loads a million cells to
show a few thousand."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ._common import Result, open_workspace, recorded_clustering, sweep_threshold

LAYOUTS = ("X_cellwak_umap", "X_umap", "X_cellwak_pca2", "X_tsne", "X_pca")  # preferred 2-D views, in order
MAX_CROPS = 256
MAX_POINTS = 50_000


def _artifact(ws, row: dict):
    return ws.home / row["artifact"]


def _cluster_cells(ws, dataset: str, clustering_id: int | None, cluster: int | None):
    """(record or None, labels or None, indices of the cells asked for)."""
    row = ws.dataset(dataset)
    if clustering_id is None and cluster is None:
        return None, None, np.arange(int(row["n_obs"]))
    record = recorded_clustering(ws, dataset, clustering_id)
    labels = np.asarray(ws.clustering_labels(record["id"]), dtype=np.int64)
    if cluster is None:
        return record, labels, np.arange(labels.size)
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    if not 0 <= int(cluster) < n_clusters:
        raise InputError(f"clustering #{record['id']} has no cluster {cluster}",
                         f"choose a cluster from 0 to {n_clusters - 1}")
    return record, labels, np.flatnonzero(labels == int(cluster))


def _sample(indices: np.ndarray, n: int, seed: int) -> np.ndarray:
    if indices.size <= n:
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=n, replace=False))


def display_rgb(images: np.ndarray) -> np.ndarray:
    """(n, C, H, W) crops of any dtype as (n, H, W, 3) uint8 for the screen: three channels as
    RGB, one (or the first of two, or more than three) as grey; each channel scaled to its 1st-99th
    percentile over the crops shown, so 16-bit and float crops are visible."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    x = x[:, :3] if x.shape[1] == 3 else x[:, :1]
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        lo, hi = np.percentile(x[:, c], [1, 99]) if x.size else (0.0, 1.0)
        out[:, c] = np.clip((x[:, c] - lo) / max(hi - lo, 1e-12), 0, 1)
    if out.shape[1] == 1:
        out = np.repeat(out, 3, axis=1)
    return (out.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)


@dataclass
class Crops(Result):
    dataset: str
    clustering_id: int | None
    cluster: int | None
    n_cells: int                   # cells the crops were drawn from
    indices: list                  # row numbers of the crops shown
    obs_names: list
    shape: list                    # (H, W) of one crop
    rgb: np.ndarray | None = field(default=None, repr=False)  # (n, H, W, 3) uint8, for display

    def to_dict(self) -> dict:
        out = super().to_dict()
        out.pop("rgb", None)
        return out


def crops(ws, dataset: str, *, n: int = 16, clustering_id: int | None = None, cluster: int | None = None,
          seed: int = 0, add_builtin: bool = True) -> Crops:
    """Up to ``n`` crops of an image dataset (of one cluster of a recorded clustering, when
    ``cluster`` is given), a seeded sample, as RGB for display. Reads only those rows.
    ``add_builtin=False``: a built-in dataset not in the workspace is refused, not added."""
    from ..io.partial import obs_names, obsm_rows

    if not 1 <= n <= MAX_CROPS:
        raise InputError(f"n must be between 1 and {MAX_CROPS}, got {n}")
    ws = open_workspace(ws)
    row = ws.dataset(dataset, builtin_ok=add_builtin)
    if not row.get("image_shape"):
        raise InputError(f"dataset {dataset!r} is a table of features and has no crops",
                         "crops exist for image datasets (npz, tiff, png folders)")
    record, _, cells = _cluster_cells(ws, dataset, clustering_id, cluster)
    chosen = _sample(cells, n, seed)
    path = _artifact(ws, row)
    rgb = display_rgb(obsm_rows(path, "images", chosen))
    return Crops(dataset=dataset, clustering_id=None if record is None else int(record["id"]), cluster=cluster,
                 n_cells=int(cells.size), indices=chosen.tolist(), obs_names=obs_names(path, chosen),
                 shape=list(rgb.shape[1:3]), rgb=rgb)


@dataclass
class EmbeddingSample(Result):
    dataset: str
    basis: str | None              # obsm key of the layout shown (None: the dataset has none yet)
    available: list                # every 2-D layout stored
    clustering_id: int | None
    n_total: int
    n_shown: int
    seed: int
    x: list = field(default_factory=list)
    y: list = field(default_factory=list)
    clusters: list = field(default_factory=list)   # per point (empty without a clustering)
    hint: str | None = None


def embedding_sample(ws, dataset: str, *, basis: str | None = None, clustering_id: int | None = None,
                     max_points: int = 4000, seed: int = 0, with_clusters: bool = True) -> EmbeddingSample:
    """A seeded sample of at most ``max_points`` cells of a 2-D layout (default: the first of
    :data:`LAYOUTS` stored), with the clusters of a recorded clustering (default: the latest)."""
    from ..io.partial import obsm_columns, obsm_shapes

    if not 1 <= max_points <= MAX_POINTS:
        raise InputError(f"max_points must be between 1 and {MAX_POINTS}, got {max_points}")
    ws = open_workspace(ws)
    row = ws.dataset(dataset)
    shapes = obsm_shapes(_artifact(ws, row))
    available = [k for k in LAYOUTS if k in shapes and len(shapes[k]) == 2 and shapes[k][1] >= 2]
    available += sorted(k for k, s in shapes.items() if k not in available and len(s) == 2 and s[1] == 2)
    if basis is not None and basis not in shapes:
        raise InputError(f"dataset {dataset!r} has no layout {basis!r}",
                         f"choose one of {', '.join(available) or '(none yet)'}, or run `cellwak embed umap -d {dataset}`")
    basis = basis or (available[0] if available else None)
    n_total = int(row["n_obs"])
    record = labels = None
    if with_clusters and (clustering_id is not None or ws.clusterings(dataset)):
        record = recorded_clustering(ws, dataset, clustering_id)
        labels = np.asarray(ws.clustering_labels(record["id"]), dtype=np.int64)
    if basis is None:
        return EmbeddingSample(dataset=dataset, basis=None, available=[], n_total=n_total, n_shown=0, seed=seed,
                               clustering_id=None if record is None else int(record["id"]),
                               hint=f"no 2-D layout yet: compute one with `cellwak embed umap -d {dataset}`")
    chosen = _sample(np.arange(n_total), max_points, seed)
    xy = np.asarray(obsm_columns(_artifact(ws, row), basis, 2)[chosen], dtype=np.float64)
    return EmbeddingSample(dataset=dataset, basis=basis, available=available,
                           clustering_id=None if record is None else int(record["id"]), n_total=n_total,
                           n_shown=int(chosen.size), seed=seed, x=xy[:, 0].round(5).tolist(),
                           y=xy[:, 1].round(5).tolist(),
                           clusters=[] if labels is None else labels[chosen].astype(int).tolist())


def run_curves(ws, run_id, *, scope: str = "epoch") -> dict:
    """A run's loss curves: ``{"run_id", "scope", "curves": {stage: {metric: [values]}}}``."""
    from ..runs import RunStore, loss_curves

    if scope not in ("epoch", "step"):
        raise InputError(f"unknown scope {scope!r}", "choose epoch or step")
    ws = open_workspace(ws)
    row = RunStore(ws).get(run_id)
    return {"run_id": int(row["id"]), "scope": scope, "curves": loss_curves(ws, int(row["id"]), scope)}


def _stability(evidence: dict):
    for key in ("stability", "stability_subsample", "stability_seeds"):
        if evidence.get(key) is not None:
            return evidence[key]
    return None


def _signature(row: dict) -> tuple:
    """What the resolutions of one sweep share: every setting but the resolution itself."""
    params = {k: v for k, v in (row.get("params") or {}).items() if k not in ("gamma", "chosen", "evidence")}
    return row["key"].split("_g")[0], repr(sorted(params.items()))


def _sweep_rows(rows: list[dict], anchor: dict | None) -> list[dict]:
    """The rows of one sweep: recorded in one transaction, so with consecutive ids, the same
    settings and rising resolutions; found from a row of it or from the clustering it chose."""
    by_id = {int(r["id"]): r for r in rows}
    if anchor is None:
        sweeps = [r for r in rows if r["method"] == "leiden-sweep"]
        if not sweeps:
            return []
        anchor = sweeps[-1]
    start = int(anchor["id"])
    if anchor["method"] != "leiden-sweep":  # `cluster --gamma auto`: its sweep was recorded just before it
        start -= 1
        if by_id.get(start, {}).get("method") != "leiden-sweep":
            return []
    first = by_id[start]
    group = [first]
    for step in (-1, 1):
        i, prev = start + step, first
        while i in by_id and by_id[i]["method"] == "leiden-sweep" and _signature(by_id[i]) == _signature(first):
            rising = float(by_id[i]["params"]["gamma"]) > float(prev["params"]["gamma"])
            if rising != (step == 1):
                break
            group.append(by_id[i])
            prev, i = by_id[i], i + step
    return sorted(group, key=lambda r: float(r["params"]["gamma"]))


def _subset_rows(evidence: dict, recorded: list[dict]) -> list[dict]:
    """Above 20,000 cells ``--gamma auto`` partitions the full graph only at the resolutions it
    checked there, so only those are recorded; the profile is then the subset graph's evidence at
    every resolution (cluster counts, stability, pass, least cluster Jaccard), with the recorded
    rows' clustering ids and ARI (of the full graph's partitions) where there are some."""
    by_gamma = {r["gamma"]: r for r in recorded}
    chosen = evidence["chosen"]["gamma"]
    return [{"gamma": float(e["gamma"]), "clustering_id": by_gamma.get(e["gamma"], {}).get("clustering_id"),
             "n_clusters": int(e["n_clusters"]), "stability": e["stability"], "passed": bool(e["passed"]),
             "cluster_jaccard": e.get("cluster_jaccard"), "ari": by_gamma.get(e["gamma"], {}).get("ari"),
             "chosen": e["gamma"] == chosen} for e in evidence["resolutions"]]


def sweep_profile(ws, dataset: str, clustering_id: int | None = None) -> dict:
    """The resolution sweep recorded with a clustering (default: the dataset's latest sweep):
    per resolution its cluster count, stability, whether it passed the stability rule's test (None
    when another --rule chose), its least reproducible cluster's Jaccard and (with labels) ARI, and
    the chosen one. ``{"dataset", "rows": [...],
    "chosen_gamma", "threshold" (the stability rule's, or None), "evidence"}`` (evidence: the
    label-free choice's record, when the clustering asked for is an ``auto`` one); no rows when no sweep chose it.
    Above 20,000 cells the rows are the subset graph's evidence (:func:`_subset_rows`)."""
    from ..tl._resolution import LABEL_FREE_RULES

    ws = open_workspace(ws)
    ws.dataset(dataset)
    anchor = recorded_clustering(ws, dataset, clustering_id) if clustering_id is not None else None
    out = []
    swept = _sweep_rows(ws.clusterings(dataset), anchor)
    for c in swept:
        evidence = c["params"].get("evidence") or {}
        passed = evidence.get("passed") if c["params"].get("rule") in (None, *LABEL_FREE_RULES) else None
        out.append({"gamma": float(c["params"]["gamma"]), "clustering_id": int(c["id"]),
                    "n_clusters": int(c["n_clusters"]), "stability": _stability(evidence),
                    "passed": None if passed is None else bool(passed),
                    "cluster_jaccard": evidence.get("cluster_jaccard"),
                    "ari": (c.get("metrics") or {}).get("ari"), "chosen": bool(c["params"].get("chosen"))})
    evidence = ((anchor or {}).get("params") or {}).get("evidence") if out else None
    if isinstance(evidence, dict) and evidence.get("full_graph_checks") and evidence.get("resolutions"):
        out = _subset_rows(evidence, out)
    chosen = [r["gamma"] for r in out if r["chosen"]]
    return {"dataset": dataset, "rows": out, "chosen_gamma": chosen[0] if chosen else None,
            "threshold": sweep_threshold(swept, anchor) if out else None,
            "evidence": evidence if isinstance(evidence, dict) else None}


@dataclass
class DashboardTarget(Result):
    home: str
    dataset: str | None
    datasets: list
    graphics: dict            # what the terminal can draw (cellwak.terminal.graphics_support)


def dashboard_target(home=None, dataset: str | None = None, *, query_terminal: bool = True) -> DashboardTarget:
    """What `cellwak tui` opens: the workspace (refused with one line when its catalog is damaged),
    when asked for a dataset that exists there (a built-in one is added on first use), and how the
    terminal draws images (asked before the dashboard starts: it cannot be asked afterwards)."""
    from ..terminal import graphics_support

    ws = open_workspace(home)
    names = [r["name"] for r in ws.datasets()]
    if dataset is not None:
        dataset = ws.dataset(dataset)["name"]
        names = [r["name"] for r in ws.datasets()]
    return DashboardTarget(home=str(ws.home), dataset=dataset, datasets=names,
                           graphics=graphics_support(query=None if query_terminal else False))
