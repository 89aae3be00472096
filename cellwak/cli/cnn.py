"""``cellwak train cnn``: a classifier on a label column (images, or a table with --arch mlp), whose
penultimate layer is X_cnn."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from .. import api
from .train import model_command

D, C = api.model_defaults("cnn"), api.model_choices("cnn")


@model_command("cnn")
def cnn(
    label: Annotated[str, typer.Option(help="obs column to learn (default: the dataset's label column).",
                                       show_default=False)] = D["label"],
    sep: Annotated[str, typer.Option(help="Separator of several labels in one value (e.g. ';'): a multi-label "
                                          "classifier; default: one label per cell.", show_default=False)] = D["sep"],
    arch: Annotated[Literal[C["arch"]], typer.Option(
        help="auto (small for images, mlp for tables), small (DINO's ConvNet, fast on a CPU), resnet18 or "
             "efficientnet_b0 (torchvision's layout, from scratch unless --weights), or mlp (feature tables).")] = D["arch"],
    weights: Annotated[str, typer.Option(help="Local weights file to start from (a torchvision state_dict of the "
                                              "same --arch, or a cnn run's model.pt); loaded weights-only.",
                                         show_default=False)] = D["weights"],
    size: Annotated[int, typer.Option(help="Resize crops to this side (0: as they are for small, at least 64 px "
                                           "for resnet18/efficientnet_b0).")] = D["size"],
    width: Annotated[int, typer.Option(help="Width w of the small ConvNet (features: 4w).")] = D["width"],
    balance: Annotated[bool, typer.Option("--balance/--no-balance", help="Weigh the loss so every class (or each "
                                          "label's positives) counts as much as the common ones.")] = D["balance"],
    augment: Annotated[bool, typer.Option("--augment/--no-augment", help="Random quarter turns and flips of each "
                                          "crop at every step.")] = D["augment"],
) -> dict:
    """A supervised classifier of the crops (or, on a feature table, an MLP) on a label column (one
    label per cell, or several joined by --sep): balanced per label as the Human Protein Atlas capstone. Reports the macro F1 on the
    held-out cells (natural label distribution, and the capstone's balanced figure) and writes
    obsm X_cnn (its penultimate layer), obs cnn_predicted and obsm cnn_proba.

    Then `cellwak cluster --rep X_cnn` or `cellwak classify --rep X_cnn --label COL`.
    """
    return {"label": label, "sep": sep, "arch": arch, "weights": weights, "size": size, "width": width,
            "balance": balance, "augment": augment}
