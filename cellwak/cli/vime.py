"""``cellwak train vime``: VIME for tables and cytometry (shared/methods/extractors.md C) as a run."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import api
from .train import model_command

D = api.model_defaults("vime")


@model_command("vime")
def vime(
    p_m: Annotated[float, typer.Option("--p-m", help="Probability that an entry is corrupted.")] = D["p_m"],
    alpha: Annotated[float, typer.Option(help="Weight of the feature-reconstruction loss (self stage).")] = D["alpha"],
    beta: Annotated[float, typer.Option(help="Weight of the consistency term (semi stage).")] = D["beta"],
    k: Annotated[int, typer.Option("--k", help="Corrupted copies per unlabelled cell for the consistency term.")] = D["k"],
    label_fraction: Annotated[float, typer.Option(help="Share of the labelled cells whose label the predictor "
                                                  "may see (0: self-supervised only).")] = D["label_fraction"],
    hidden: Annotated[int, typer.Option(help="Encoder width (0: as many as features, as VIME).")] = D["hidden"],
    self_epochs: Annotated[int, typer.Option(help="Epochs of the self-supervised stage (--epochs overrides).")] = D["self_epochs"],
    semi_epochs: Annotated[int, typer.Option(help="Epochs of the semi-supervised stage (--epochs overrides).")] = D["semi_epochs"],
) -> dict:
    """VIME: self-supervised mask and feature estimation, then a semi-supervised predictor.

    Writes obsm X_vime (the encoder) and, when the dataset has labels and --label-fraction is
    above 0, obs vime_prediction and obsm vime_proba. The held-out cells report the predictor's
    accuracy against their true labels. For cytometry add the FCS file with --arcsinh 5 first.
    """
    return {"p_m": p_m, "alpha": alpha, "beta": beta, "k": k, "label_fraction": label_fraction, "hidden": hidden,
            "self_epochs": self_epochs, "semi_epochs": semi_epochs}
