"""What sets each cluster of a recorded clustering apart: marker features (``cellwak markers``),
and the per-cluster summary ``clusters show`` gives (unlabelled share, majority label, top
markers with their direction, batch composition).

Light at import (no NumPy): the command line reads :class:`MarkersConfig` and :data:`METHODS`
at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import MARKER_METHODS
from ..errors import InputError
from ..progress import NULL
from ._common import Result, editing, open_workspace, recorded_clustering
from .config import _Config

METHODS = MARKER_METHODS
KEY = "cellwak_markers"                      # uns key the operation writes (and the images part: KEY + '_images')
SUMMARY_MARKERS = 3                          # markers per cluster in `clusters show`


@dataclass
class MarkersConfig(_Config):
    """``cellwak markers``: each cluster of a recorded clustering against the rest."""

    clustering: int | None = None   # default: the dataset's latest clustering
    method: str = "wilcoxon"        # wilcoxon | t-test | logreg
    rep: str | None = None          # None: the dataset's features (X); or an obsm key
    top: int = 10                   # markers reported per cluster
    seed: int = 0                   # logreg's subsample above 100,000 cells

    def check(self) -> None:
        from ..tl._markers import check_markers  # noqa: PLC0415 (NumPy: only when checking)

        check_markers(method=self.method, n_top=self.top)


def _labels(ws, adata, record: dict):
    """The clustering's labels (int per cell) as stored with its catalog row."""
    labels = ws.clustering_labels(record["id"])
    if len(labels) != adata.n_obs:
        raise InputError(f"clustering #{record['id']} has {len(labels)} labels but dataset {record['dataset']!r} "
                         f"has {adata.n_obs} cells", "cluster the dataset again")
    return labels


def _groupby(ws, adata, record: dict) -> str:
    """The obs column holding this clustering's labels: its own key when that column still holds
    them, else ``cellwak_clustering_<id>`` (written, so that scanpy's plots find the groups)."""
    import numpy as np
    import pandas as pd

    labels = _labels(ws, adata, record)
    key = record["key"]
    if key in adata.obs and np.array_equal(adata.obs[key].astype(str).to_numpy(), labels.astype(str)):
        return key
    column = f"cellwak_clustering_{record['id']}"
    n = int(labels.max()) + 1 if labels.size else 0
    adata.obs[column] = pd.Categorical(labels.astype(str), categories=[str(i) for i in range(n)])
    return column


def _typical_rep(adata, config: MarkersConfig, record: dict) -> str | None:
    """Where an image dataset's typical cells are found: --rep, else the clustering's own
    representation when it is stored, else the scaled pixels (None)."""
    if config.rep is not None:
        return config.rep
    rep = (record.get("params") or {}).get("rep")
    return rep if rep and rep != "images" and rep in adata.obsm else None


@dataclass
class MarkersOutcome(Result):
    dataset: str
    clustering_id: int
    groupby: str                 # obs column of the groups
    key: str                     # uns key of the scanpy-shaped results
    method: str
    rep: str                     # 'X' (the features) or an obsm key
    effect: str                  # what 'effect' means: log2 fold change or standardised mean difference
    n_cells: int
    n_features: int
    n_fit_cells: int | None      # logreg: cells fitted (a seeded subsample above 100,000)
    top: int
    clusters: list               # per cluster: cluster, size, markers (name, score, effect, p_adj, pts, direction)
    images: dict | None          # image datasets: uns key, and per cluster its typical cells (obs names)
    params: dict
    seconds: float


def markers(ws, dataset: str, config: MarkersConfig | None = None, progress=NULL) -> MarkersOutcome:
    """Marker features of every cluster of a recorded clustering (default: the dataset's latest)
    against the rest; written to ``uns['cellwak_markers']`` (and ``uns['cellwak_markers_images']``
    for image datasets) as scanpy's ``rank_genes_groups`` writes them. Per cluster the result
    lists the ``config.top`` markers that name it (its strongest higher feature, then by score size)."""
    from ..tl._markers import run_markers

    config = config or MarkersConfig()
    config.check()
    ws = open_workspace(ws)
    ws.dataset(dataset)
    record = recorded_clustering(ws, dataset, config.clustering)
    with editing(ws, dataset) as adata:
        groupby = _groupby(ws, adata, record)
        result = run_markers(adata, groupby, method=config.method, use_rep=config.rep, key_added=KEY,
                             typical_rep=_typical_rep(adata, config, record), random_state=config.seed,
                             progress=progress)
        adata.uns[KEY]["params"]["clustering_id"] = int(record["id"])
        names = adata.obs_names
        images = None
        if result.images is not None:
            typical = result.images["typical"]
            images = {"key": f"{KEY}_images", "shape": list(result.images["mean"].shape[1:]),
                      "typical": {g: [str(names[i]) for i in typical[k] if i >= 0]
                                  for k, g in enumerate(result.groups)}}
    clusters = [{"cluster": g, "size": int(result.sizes[k]), "markers": result.top(k, config.top)}
                for k, g in enumerate(result.groups)]
    return MarkersOutcome(
        dataset=dataset, clustering_id=int(record["id"]), groupby=groupby, key=KEY, method=config.method,
        rep=result.params["use_rep"], effect=result.effect, n_cells=int(result.sizes.sum()),
        n_features=int(len(result.names)), n_fit_cells=result.params["n_fit_cells"], top=config.top,
        clusters=clusters, images=images, params={**result.params, "clustering_id": int(record["id"])},
        seconds=round(result.seconds, 3))


# -- the per-cluster summary of `clusters show` -------------------------------------------------

def _stored_markers(adata, record: dict, n_groups: int):
    """(scores, effects, names, method, effect kind) of markers stored for this clustering, or None."""
    import numpy as np

    stored = adata.uns.get(KEY)
    if not isinstance(stored, dict) or "params" not in stored or "names" not in stored:
        return None
    params = stored["params"]
    clustering_id = params.get("clustering_id")
    if clustering_id is None or int(clustering_id) != int(record["id"]):
        return None
    names = stored["names"]
    groups = [str(g) for g in names.dtype.names]
    if groups != [str(i) for i in range(n_groups)]:
        return None
    by_name = [dict(zip(names[g], range(len(names)))) for g in groups]
    features = sorted(by_name[0])
    if any(set(b) != set(features) for b in by_name):  # only a few features kept per group
        return None
    scores = np.array([[stored["scores"][g][b[f]] for f in features] for g, b in zip(groups, by_name)], dtype=float)
    effects = np.array([[stored["logfoldchanges"][g][b[f]] for f in features] for g, b in zip(groups, by_name)],
                       dtype=float)
    return scores, effects, np.asarray(features, dtype=object), str(params.get("method")), str(params.get("effect"))


def _summary_markers(adata, record: dict, labels, n_groups: int, progress=NULL) -> tuple[list, dict]:
    """Per cluster the SUMMARY_MARKERS markers that name it (:func:`cellwak.tl._markers.naming_order`)
    with their direction; stored markers of this clustering when present, else a t-test now."""
    import numpy as np

    from ..tl._markers import naming_order

    stored = _stored_markers(adata, record, n_groups)
    if stored is not None:
        scores, effects, names, method, effect = stored
        source = {"source": "stored", "key": KEY, "method": method, "effect": effect}
    else:
        from ..tl._markers import marker_statistics

        result = marker_statistics(adata.X, labels, [str(i) for i in range(n_groups)],
                                   np.asarray(adata.var_names.astype(str), dtype=object), method="t-test",
                                   progress=progress)
        scores, effects, names = result.scores, result.effects, result.names
        source = {"source": "computed", "key": None, "method": "t-test", "effect": result.effect}
    out = []
    for k in range(n_groups):
        order = naming_order(scores[k])[:SUMMARY_MARKERS]
        out.append([{"name": str(names[j]), "direction": "+" if scores[k, j] > 0 else "-",
                     "score": float(scores[k, j]), "effect": float(effects[k, j])} for j in order])
    return out, source


def cluster_summary(ws, record: dict, progress=NULL) -> dict:
    """Per cluster of a recorded clustering: size, unlabelled cells, the majority label's share
    among all cells and among labelled cells, the top markers with direction, and the counts per
    batch value. Reads the dataset; writes nothing."""
    import numpy as np
    import pandas as pd

    from ..io import labelled_mask

    adata = ws.load(record["dataset"])
    labels = np.asarray(_labels(ws, adata, record), dtype=np.int64)
    n_groups = int(labels.max()) + 1 if labels.size else 0
    sizes = np.bincount(labels, minlength=n_groups)
    info = adata.uns.get("cellwak", {}).get("dataset", {})
    truth, mask = labelled_mask(adata)
    batch_key = info.get("batch_key")
    batches = adata.obs[batch_key] if batch_key and batch_key in adata.obs else None
    markers, source = ([[]] * n_groups, None)
    if n_groups > 1:
        markers, source = _summary_markers(adata, record, labels, n_groups, progress)
    table = None
    if truth is not None:
        table = pd.crosstab(pd.Series(labels[mask], name="cluster"), pd.Series(truth[mask], name="label"))
    per_batch = None
    if batches is not None:
        values = batches.astype(object).fillna("(missing)").to_numpy()
        per_batch = pd.crosstab(pd.Series(labels, name="cluster"), pd.Series(values, name="batch"))
    clusters = []
    for k in range(n_groups):
        size = int(sizes[k])
        entry = {"cluster": k, "size": size, "share": size / max(1, len(labels))}
        if truth is not None:
            labelled = int(mask[labels == k].sum())
            entry["unlabelled"] = size - labelled
            entry["unlabelled_share"] = (size - labelled) / size if size else None
            entry["majority"] = None
            if table is not None and k in table.index and labelled:
                row = table.loc[k]
                count = int(row.max())
                entry["majority"] = {"label": str(row.idxmax()), "count": count, "share_of_all": count / size,
                                     "share_of_labelled": count / labelled}
        entry["markers"] = markers[k]
        entry["markers_text"] = " ".join(f"{m['name']}{m['direction']}" for m in markers[k])
        if per_batch is not None:
            row = per_batch.loc[k] if k in per_batch.index else pd.Series(dtype=int)
            entry["batches"] = {str(b): int(v) for b, v in row.items()}
        clusters.append(entry)
    return {"label_column": info.get("label_key") if truth is not None else None,
            "unlabeled_values": list(info.get("unlabeled", [])) if truth is not None else [],
            "n_labelled": int(mask.sum()) if truth is not None else None,
            "batch_column": batch_key if batches is not None else None,
            "markers": source, "clusters": clusters}
