"""The figures, scanpy-shaped: each takes an AnnData (or a table), computes the small table R needs
(:mod:`cellwak.pl._tables`), has R draw it (:func:`cellwak.backends.r.render`) into ``out``
(.png, .pdf or .svg), writes nothing into the AnnData, and returns the file's path (shown inline
in Jupyter). ``width``/``height`` are inches (default: sized to the content), ``dpi`` for PNG."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, short_list
from . import _tables as T

SWEEP_RULE_COLUMNS = {"reproducible": "stability_subsample", "most-stable": "stability_subsample",
                      "silhouette": "silhouette", "n2s": "n2s_depwak", "plateau": "n_clusters",
                      # the label-free rules: stability against its threshold
                      "plateau-end": "stability_subsample", "stable-clusters": "stability_subsample",
                      "stable-clusters-5": "stability_subsample"}
_LAST = threading.local()   # how this thread's latest figure was drawn (mode, seconds): see last_render()


def last_render() -> dict:
    """{'mode': 'inprocess'|'child', 'seconds': R's part} of the latest figure drawn by this thread."""
    return dict(getattr(_LAST, "info", {}))


def _draw(kind: str, args: list, out, *, title, width, height, dpi, show, mode="auto", **options) -> Path:
    from ..backends.r import render

    out = Path(out).expanduser()
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist", "create it first or choose another --out")
    sizes = {"width": width, "height": height, "dpi": dpi}
    for name, value in sizes.items():
        if value is not None and not 0 < float(value) <= (2400 if name == "dpi" else 100):
            raise InputError(f"--{name} must be above 0 and at most {2400 if name == 'dpi' else 100}, got {value}")
    _LAST.info = render(kind, args, {"title": title, **sizes, **options}, out, mode=mode)
    _show(out, show)
    return out


def _show(path: Path, show) -> None:
    """Display the figure in a Jupyter notebook (PNG and SVG); nothing elsewhere."""
    if show is False or path.suffix.lower() == ".pdf":
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if show is None and (shell is None or "IPKernelApp" not in getattr(shell, "config", {})):
        return
    from IPython.display import SVG, Image, display

    display(SVG(filename=str(path)) if path.suffix.lower() == ".svg" else Image(filename=str(path)))


def embedding(adata, color: str | None = None, *, out, basis: str | None = None, title: str | None = None,
              width=None, height=None, dpi=150, show=None, mode="auto") -> Path:
    """Scatter of a 2-D layout (``basis``: an obsm key; default the stored UMAP, else PCA) coloured
    by an obs column (cluster, label, batch) or a feature; points are rasterised past 50,000 cells."""
    xy, key, axis = T.layout(adata, basis)
    if color is None:
        color = next((c for c in ("cellwak_leiden", T.dataset_record(adata).get("label_key")) if c and c in adata.obs),
                     None)
    values, categorical = T.colour_values(adata, color) if color else (np.full(adata.n_obs, "cells"), True)
    table = T.embedding_table(xy, values, categorical)
    basis_name = axis if key != "computed" else "PC"
    return _draw("embedding", [table], out, title=title, width=width, height=height, dpi=dpi, show=show, mode=mode,
                 color_by=color or "cells", basis=basis_name, categorical=categorical)


def heatmap(adata, groupby: str, *, out, features=None, statistic: str = "mean", scale: str = "z",
            label_key: str | None | bool = None, batch_key: str | None | bool = None, title: str | None = None,
            width=None, height=None, dpi=150, show=None, mode="auto") -> Path:
    """Cluster x feature heatmap (ComplexHeatmap) of per-cluster means or medians, scaled per
    feature ('z' or 'minmax'), with cluster sizes and the label (``label_key``; default the
    dataset's labels, False for none) and batch composition (``batch_key``) beside it."""
    if scale not in ("z", "minmax"):
        raise InputError(f"unknown scale {scale!r}", "use z or minmax")
    groups = T.require_obs(adata, groupby, "the clusters").to_numpy()
    labels, mask = _labels(adata, label_key)
    batches = _column(adata, batch_key, "batch_key", "the batches")
    table, _ = T.heatmap_table(adata, groups, features=features, statistic=statistic, labels=labels,
                               label_mask=mask, batches=batches)
    return _draw("heatmap", [table], out, title=title, width=width, height=height, dpi=dpi, show=show, mode=mode,
                 scale=scale, statistic=statistic, label_title=_name(adata, label_key, "label_key", "label"),
                 batch_title=_name(adata, batch_key, "batch_key", "batch"))


def enrichment(adata, by: str, groupby: str = "cellwak_leiden", *, out, fdr: float = 0.05, title: str | None = None,
               width=None, height=None, dpi=150, show=None, mode="auto") -> Path:
    """Dot-heatmap of the over-representation of each value of ``obs[by]`` in each cluster of
    ``obs[groupby]`` (hypergeometric, BH FDR; :func:`cellwak.tl.enrich`): colour log2 odds ratio,
    size -log10 FDR, conditions clustered."""
    from ..tl._enrich import enrichment_table

    groups = T.require_obs(adata, groupby, "the clusters")
    values = T.require_obs(adata, by, "the conditions")
    table = enrichment_table(groups.to_numpy(), values.to_numpy())
    return _draw("enrichment", [table[["cluster", "value", "log2_odds_ratio", "fdr", "count"]]], out, title=title,
                 width=width, height=height, dpi=dpi, show=show, mode=mode, by=by, fdr=fdr)


def string(adata, key: str = "cellwak_interactions", *, out, title: str | None = None, width=None, height=None,
           dpi=150, show=None, mode="auto") -> Path:
    """The known interactions among the perturbed genes (``uns[key]`` written by
    :func:`cellwak.tl.interactions`), igraph layout, nodes coloured by each gene's cluster, edges
    solid where both genes share it."""
    stored = adata.uns.get(key)
    if not isinstance(stored, dict) or not len(stored.get("pairs", {})):
        raise InputError(f"the dataset has no interaction pairs under uns[{key!r}]",
                         "run `cellwak string --condition COL --pairs FILE` (or --links) first")
    pairs = pd.DataFrame({c: np.asarray(v) for c, v in stored["pairs"].items()})
    for c in ("a", "b", "cluster_a", "cluster_b"):
        pairs[c] = pairs[c].astype(str)
    summary = stored.get("summary", {})
    subtitle = None
    if summary.get("r_pairs") is not None:
        p = summary.get("p_value")
        subtitle = (f"{len(pairs)} known interactions; profile correlation of pairs {summary['r_pairs']:.2f} vs "
                    f"{summary.get('r_others', float('nan')):.2f} for other pairs" + (f" (p = {p:.3g})" if p is not None else ""))
    return _draw("string", [pairs], out, title=title, width=width, height=height, dpi=dpi, show=show, mode=mode,
                 subtitle=subtitle)


def sweep(data, *, out, chosen: float | None = None, rule: str | None = None, key: str = "cellwak_leiden_sweep",
          threshold: float | None = None, title: str | None = None, width=None, height=None, dpi=150, show=None,
          mode="auto") -> Path:
    """The gamma sweep: clusters, stability, the rule's criterion and (with labels) ARI per gamma,
    the chosen gamma marked. ``data``: the sweep table (DataFrame) or an AnnData with ``uns[key]``.
    A ``passed`` column (the rule's test per resolution) draws the failing resolutions' stability as
    open points; ``threshold`` (the rule's stability threshold) is drawn as a dotted line, and the
    ``stable-clusters`` rule's floor on the least reproducible cluster's Jaccard as another."""
    if isinstance(data, pd.DataFrame):
        table = data.copy()
    else:
        stored = data.uns.get(key)
        if not isinstance(stored, dict) or "table" not in stored:
            raise InputError(f"the dataset has no sweep under uns[{key!r}]", "run `cellwak sweep` first")
        table = pd.DataFrame({c: np.asarray(v) for c, v in stored["table"].items()})
        chosen = chosen if chosen is not None else stored.get("chosen_gamma")
        rule = rule or stored.get("rule")
        if threshold is None and stored.get("evidence_json"):
            threshold = json.loads(str(stored["evidence_json"])).get("threshold")
    if "gamma" not in table or "n_clusters" not in table or not len(table):
        raise InputError("the sweep table needs gamma and n_clusters rows", "run `cellwak sweep` first")
    table = table.sort_values("gamma").reset_index(drop=True)
    from ..tl._resolution import CLUSTER_FLOOR, FLOOR_RULES, LABEL_FREE_RULES

    if rule is not None and rule not in LABEL_FREE_RULES and "passed" in table:
        table = table.drop(columns="passed")  # the stability rule's test, not the rule that chose
        threshold = None
    floor = {"cluster_floor": CLUSTER_FLOOR} if rule in FLOOR_RULES and "cluster_jaccard" in table else {}
    chosen = None if chosen is None or pd.isna(chosen) else float(chosen)
    table["chosen"] = np.isclose(table["gamma"], chosen) if chosen is not None else False
    numeric = [c for c in table.columns if c == "chosen" or pd.api.types.is_numeric_dtype(table[c])]
    return _draw("sweep", [table[numeric].astype({c: float for c in numeric if c != "chosen"})], out, title=title,
                 width=width, height=height, dpi=dpi, show=show, mode=mode, rule=rule,
                 rule_column=SWEEP_RULE_COLUMNS.get(rule or ""), **floor,
                 **({"threshold": float(threshold)} if threshold is not None and np.isfinite(threshold) else {}))


def loss(metrics: pd.DataFrame, *, out, title: str | None = None, width=None, height=None, dpi=150, show=None,
         mode="auto") -> Path:
    """Training curves: per stage, the train loss and the held-out (validation) loss per epoch.
    ``metrics``: a run's metrics (columns scope, stage, epoch, name, value: ``cellwak runs export``)
    or a table of stage, epoch, split, value."""
    table = loss_table(metrics)
    return _draw("loss", [table], out, title=title, width=width, height=height, dpi=dpi, show=show, mode=mode,
                 subtitle="validation: the held-out cells (test/loss)")


def loss_table(metrics: pd.DataFrame) -> pd.DataFrame:
    if {"stage", "epoch", "split", "value"} <= set(metrics.columns):
        return metrics[["stage", "epoch", "split", "value"]].copy()
    if not {"stage", "epoch", "name", "value"} <= set(metrics.columns):
        raise InputError("the metrics table needs columns stage, epoch, name, value", "export them with `cellwak runs export`")
    rows = metrics[metrics["name"].isin(["train/loss", "test/loss"])]
    if "scope" in rows:
        rows = rows[rows["scope"] == "epoch"]
    if not len(rows):
        raise InputError("the run recorded no per-epoch train/loss or test/loss yet",
                         "wait for its first epoch (`cellwak runs show ID`)")
    table = rows.assign(split=rows["name"].map({"train/loss": "train", "test/loss": "validation"}),
                        stage=rows["stage"].fillna("train").astype(str))
    table = table.groupby(["stage", "epoch", "split"], sort=False, as_index=False)["value"].last()
    return table[["stage", "epoch", "split", "value"]]


def composition(adata, groupby: str, by: str, *, out, title: str | None = None, width=None, height=None, dpi=150,
                show=None, mode="auto") -> Path:
    """Stacked bars: the share of each cluster (``obs[groupby]``) in each batch or sample (``obs[by]``)."""
    groups = T.require_obs(adata, groupby, "the clusters")
    values = T.require_obs(adata, by, "the batches or samples")
    table = T.composition_table(groups.to_numpy(), values.astype(object).fillna("(missing)").to_numpy())
    return _draw("composition", [table], out, title=title, width=width, height=height, dpi=dpi, show=show, mode=mode,
                 by=by)


def montage(adata, groupby: str, *, out, rep: str | None = None, n: int = 8, title: str | None = None, width=None,
            height=None, dpi=150, show=None, mode="auto") -> Path:
    """Each cluster's ``n`` most typical crops (nearest its centroid in ``obsm[rep]``, default
    the scaled pixels), one row per cluster, for image datasets (``obsm['images']``)."""
    if "images" not in adata.obsm:
        raise InputError("the dataset has no images (obsm['images'])", "montage is for image datasets")
    if not 1 <= n <= 30:
        raise InputError(f"n must be between 1 and 30, got {n}")
    codes, names = T.group_codes(T.require_obs(adata, groupby, "the clusters").to_numpy())
    if rep is not None and rep not in adata.obsm:
        raise InputError(f"no representation {rep!r} in obsm", f"choose one of: {short_list(list(adata.obsm), 8)}")
    images = np.asarray(adata.obsm["images"])
    space = np.asarray(adata.obsm[rep]) if rep else images.reshape(images.shape[0], -1).astype(np.float32) / max(
        1.0, float(images.max()))
    chosen = T.typical_cells(space, codes, len(names), n)
    index = np.concatenate(chosen)
    sizes = np.bincount(codes, minlength=len(names))
    crops = pd.DataFrame({"cluster": np.repeat(names, [len(c) for c in chosen]),
                          "cell": np.asarray(adata.obs_names.astype(str))[index],
                          "n_cells": np.repeat(sizes, [len(c) for c in chosen])})
    labels, mask = _labels(adata, None)
    if labels is not None:
        counts = pd.crosstab(codes[mask], labels[mask])
        majority = {k: f"{row.idxmax()} ({100 * row.max() / sizes[k]:.0f}%)" for k, row in counts.iterrows()}
        crops["label"] = [majority.get(k, "") for k in np.repeat(np.arange(len(names)), [len(c) for c in chosen])]
    return _draw("montage", [crops, T.display_pixels(images[index])], out, title=title, width=width, height=height,
                 dpi=dpi, show=show, mode=mode)


def _labels(adata, label_key):
    """(labels, mask of labelled cells) from ``label_key`` or the dataset's label column."""
    if label_key is False:
        return None, None
    if label_key:
        values = T.require_obs(adata, label_key, "the labels")
        return values.astype(str).to_numpy(), values.notna().to_numpy()
    from ..io import labelled_mask

    labels, mask = labelled_mask(adata)
    return (labels, mask) if labels is not None and mask.any() else (None, None)


def _column(adata, key, record_key: str, what: str):
    if key is False:
        return None
    key = key or T.dataset_record(adata).get(record_key)
    if not key:
        return None
    return T.require_obs(adata, key, what).astype(object).fillna("(missing)").to_numpy()


def _name(adata, key, record_key: str, default: str) -> str:
    return str(key) if isinstance(key, str) else str(T.dataset_record(adata).get(record_key) or default)
