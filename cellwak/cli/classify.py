"""``cellwak classify``: one balanced binary classifier per label on an embedding."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET, ClassifyConfig
from ._options import Dataset, Seed
from ._progress import CliProgress
from ._state import emit, home


def classify(
    label: Annotated[str, typer.Option("--label", help="obs column holding each cell's labels, several joined by --sep.",
                                       show_default=False)],
    dataset: Dataset = DEFAULT_DATASET,
    rep: Annotated[Optional[str], typer.Option(help="Representation: an obsm key (X_vime, X_deepwak, ...) or X; "
                                                    "default PCA.", show_default=False)] = ClassifyConfig.rep,
    sep: Annotated[str, typer.Option(help="Separator between the labels of one cell.")] = ClassifyConfig.sep,
    threshold: Annotated[float, typer.Option(help="A label is predicted when its probability reaches this.")] = ClassifyConfig.threshold,
    test_fraction: Annotated[float, typer.Option(help="Cells held out with the natural label distribution for the "
                                                      "honest F1.")] = ClassifyConfig.test_fraction,
    trees: Annotated[int, typer.Option(help="Trees per ExtraTrees classifier.")] = ClassifyConfig.trees,
    seed: Seed = ClassifyConfig.seed,
):
    """Per-label classifiers (the Human Protein Atlas approach): for each label a balanced
    QuantileTransformer -> StandardScaler -> ExtraTrees classifier on the representation. Prints
    each label's F1 on its balanced test split (the published figure) and on held-out cells with
    the natural label distribution (the honest one); writes the obs column cellwak_predicted_labels
    and the obsm key cellwak_predicted_labels_proba.
    """
    config = ClassifyConfig(label=label, rep=rep, sep=sep, threshold=threshold, test_fraction=test_fraction,
                            trees=trees, seed=seed)
    with CliProgress() as progress:
        out = api.classify(home(), dataset, config, progress)
    emit(out, lambda c: render(c, out.to_dict()))


def render(console, out: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"per-label classifiers on '{out['dataset']}' ({out['label']})"))
    for col in ("label", "cells", "F1 balanced test", "F1 held-out", "held-out positives"):
        table.add_column(col, justify="left" if col == "label" else "right")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for r in out["per_label"]:
        table.add_row(escape(r["label"]), f"{r['positives']:,}", fmt(r["balanced_f1"]), fmt(r["heldout_f1"]),
                      str(r["heldout_support"]))
    console.print(table)
    console.print(f"macro F1: {out['balanced_macro_f1']:.3f} on balanced test splits (as published), "
                  f"{out['heldout_macro_f1']:.3f} on {out['n_test']:,} held-out cells with the natural label "
                  f"distribution; predictions in the obs column {out['keys']['obs']}")
