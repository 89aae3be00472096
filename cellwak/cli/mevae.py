"""``cellwak train mevae`` and ``cellwak train vae``: image feature extractors as runs."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from .. import api
from .train import model_command

D, C = api.model_defaults("mevae"), api.model_choices("mevae")
DV, CV = api.model_defaults("vae"), api.model_choices("vae")


@model_command("mevae")
def mevae(
    dim: Annotated[int, typer.Option(help="Latent dimensions (obsm X_mevae).")] = D["dim"],
    encoders: Annotated[int, typer.Option(help="Encoders: 1 sees a random rotation, 2 a random polarity, more see the "
                                               "target.")] = D["encoders"],
    combine: Annotated[Literal[C["combine"]], typer.Option(help="How codes combine: product (published), mean or "
                                                                "concat (ablations).")] = D["combine"],
    loss: Annotated[Literal[C["loss"]], typer.Option(help="faithful (the published log-variance inconsistency) or "
                                                          "clean.")] = D["loss"],
    export: Annotated[Literal[C["export"]], typer.Option(help="Features from the means (deterministic) or stochastic "
                                                              "(sampled, as published).")] = D["export"],
    free_bits: Annotated[float, typer.Option(help="Nats of KL per latent dimension and encoder that cost nothing "
                                                  "(0: the published loss, whose product of codes collapses on real "
                                                  "crops).")] = D["free_bits"],
    background: Annotated[Literal[C["background"]], typer.Option(
        help="Crop background for the rotation/polarity views: border (median of each crop's outer frame: "
             "moments of |crop - background|, rotated corners filled with it) or zero (as published, for "
             "dark-background fluorescence).")] = D["background"],
    beta: Annotated[float, typer.Option(help="Weight of the KL term (1: published).")] = D["beta"],
    warmup: Annotated[float, typer.Option(help="Share of the training steps over which the KL weight (to --beta) "
                                               "and the sampling noise rise linearly from 0 (0: none, as "
                                               "published).")] = D["warmup"],
    likelihood: Annotated[Literal[C["likelihood"]], typer.Option(
        help="Reconstruction likelihood: bce (published) or gaussian (the sigma-VAE: variance set to the batch's "
             "mean squared error).")] = D["likelihood"],
    normalise: Annotated[Literal[C["normalise"]], typer.Option(
        help="Pixel scaling: dataset (each channel by its maximum over all crops, so total intensity stays a "
             "feature) or crop (each crop by its own maximum, as published).")] = D["normalise"],
) -> dict:
    """ME-VAE: encoders on rotation- and polarity-randomised copies of each cell, the product of
    their codes decoded into the canonical cell (major axis vertical, one polarity).

    Writes obsm X_mevae; then `cellwak cluster --rep X_mevae --gamma auto`.
    """
    return {"dim": dim, "encoders": encoders, "combine": combine, "loss": loss, "export": export,
            "free_bits": free_bits, "background": background, "beta": beta, "warmup": warmup,
            "likelihood": likelihood, "normalise": normalise}


@model_command("vae")
def vae(
    dim: Annotated[int, typer.Option(help="Latent dimensions (obsm X_vae).")] = DV["dim"],
    beta: Annotated[float, typer.Option(help="Weight of the KL term (1: VAE; above 1: beta-VAE).")] = DV["beta"],
    export: Annotated[Literal[CV["export"]], typer.Option(help="Features from the means (deterministic) or "
                                                               "stochastic.")] = DV["export"],
    likelihood: Annotated[Literal[CV["likelihood"]], typer.Option(
        help="Reconstruction likelihood: bce or gaussian (sigma-VAE).")] = DV["likelihood"],
    normalise: Annotated[Literal[CV["normalise"]], typer.Option(
        help="Pixel scaling: dataset (each channel by its maximum over all crops) or crop (by its own "
             "maximum).")] = DV["normalise"],
) -> dict:
    """VAE / beta-VAE on ME-VAE's backbone, reconstructing each crop as it is: the baseline.

    Writes obsm X_vae.
    """
    return {"dim": dim, "beta": beta, "export": export, "likelihood": likelihood, "normalise": normalise}
