"""``cellwak classify``: one balanced binary classifier per label on an embedding."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._state import emit, workspace


def classify(
    label: Annotated[str, typer.Option("--label", help="obs column holding each cell's labels, several joined by --sep.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name (default: the built-in 'blood').")] = "blood",
    rep: Annotated[Optional[str], typer.Option(help="Representation in obsm (X_vime, X_deepwak, ...) or X; default PCA.")] = None,
    sep: Annotated[str, typer.Option(help="Separator between the labels of one cell.")] = ";",
    threshold: Annotated[float, typer.Option(help="A label is predicted when its probability reaches this.")] = 0.5,
    test_fraction: Annotated[float, typer.Option(help="Cells held out with the natural label distribution for the honest F1.")] = 0.25,
    trees: Annotated[int, typer.Option(help="Trees per ExtraTrees classifier.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (splits, negatives, trees).")] = 0,
):
    """Per-label classifiers (the Human Protein Atlas approach): for each label a balanced
    QuantileTransformer -> StandardScaler -> ExtraTrees classifier on the representation. Prints
    each label's F1 on its balanced test split (the published figure) and on held-out cells with
    the natural label distribution (the honest one); writes obs['cellwak_predicted_labels'] and
    obsm['cellwak_label_proba'].
    """
    from ..errors import InputError
    from ..pp.representation import representation
    from ..provenance import record
    from ..tl.classify import per_label_classifiers

    if trees < 1:
        raise InputError(f"--trees must be at least 1, got {trees}")
    ws = workspace()
    ws.dataset(dataset)
    adata = ws.load(dataset)
    if label not in adata.obs:
        raise InputError(f"no column {label!r} in dataset {dataset!r}",
                         f"choose one of {', '.join(map(str, list(adata.obs.columns)[:12]))}")
    X, rep_info = representation(adata, rep, seed=seed)
    values = adata.obs[label].astype(object).where(adata.obs[label].notna(), None).to_numpy()
    result = per_label_classifiers(X, values, sep=sep, threshold=threshold, test_fraction=test_fraction,
                                   n_estimators=trees, seed=seed)
    adata.obs["cellwak_predicted_labels"] = result.predicted.astype(str)
    adata.obsm["cellwak_label_proba"] = result.proba
    params = {"label": label, "rep": rep_info, "sep": sep, "threshold": threshold, "test_fraction": test_fraction,
              "trees": trees, "labels": result.labels}
    adata.uns.setdefault("cellwak", {})["classify"] = record("classify", params, seed=seed, device="cpu")
    ws.save(dataset, adata)
    out = {"dataset": dataset, "label": label, "labels": result.labels, "per_label": result.per_label,
           "balanced_macro_f1": round(result.balanced_macro_f1, 4), "heldout_macro_f1": round(result.heldout_macro_f1, 4),
           "n_test": int(len(result.test_cells))}
    emit(out, lambda c: _render(c, out))


def _render(console, out: dict) -> None:
    from rich.table import Table

    table = Table(title=f"per-label classifiers on '{out['dataset']}' ({out['label']})")
    for col in ("label", "cells", "F1 balanced test", "F1 held-out", "held-out positives"):
        table.add_column(col, justify="left" if col == "label" else "right")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for r in out["per_label"]:
        table.add_row(r["label"], f"{r['positives']:,}", fmt(r["balanced_f1"]), fmt(r["heldout_f1"]),
                      str(r["heldout_support"]))
    console.print(table)
    console.print(f"macro F1: {out['balanced_macro_f1']:.3f} on balanced test splits (as published), "
                  f"{out['heldout_macro_f1']:.3f} on {out['n_test']:,} held-out cells with the natural label "
                  "distribution; predictions in obs['cellwak_predicted_labels']")
