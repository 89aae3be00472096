"""``cellwak train deepwak``: the DeePWAK network (shared/methods/deepwak.md 1.5-1.6) as a run."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from .. import api
from .train import TRAIN_OVERRIDES, model_command

PUBLISHED_TRAINING = {"optimizer": "adam-reset", "test_every_step": True}
D, C = api.model_defaults("deepwak"), api.model_choices("deepwak")


@model_command("deepwak")
def deepwak(
    heads: Annotated[int, typer.Option(help="Heads in the block (V2).")] = D["heads"],
    clusters: Annotated[int, typer.Option(help="Maximum clusters c (partitioner outputs); the number used emerges.")] = D["clusters"],
    dim: Annotated[int, typer.Option(help="Embedding dimensions d (obsm X_deepwak).")] = D["dim"],
    variant: Annotated[Literal[C["variant"]], typer.Option(help="v2 (the published head, block and consensus) or v1 "
                                                               "(the README model).")] = D["variant"],
    pool: Annotated[Literal[C["pool"]], typer.Option(help="How the block combines its heads: sum (screen/main.jl) or "
                                                         "linear (MSDeePWAK).")] = D["pool"],
    wak_norm: Annotated[Literal[C["wak_norm"]], typer.Option(help="WAK normalisation: col (as published; trains faster and "
                                                                  "lower on the embryo screen) or row (weighted averages).")] = D["wak_norm"],
    scaling: Annotated[Literal[C["scaling"]], typer.Option(help="sample (each cell by its largest |value|, as published), "
                                                               "feature or none.")] = D["scaling"],
    alpha: Annotated[float, typer.Option(help="V1 only: weight of the entropy of the gate w.")] = D["alpha"],
    beta: Annotated[float, typer.Option(help="V1 only: weight of the soft modularity.")] = D["beta"],
    gamma: Annotated[float, typer.Option(help="V1 only: resolution of the soft modularity.")] = D["gamma"],
    eval_backend: Annotated[Literal[C["eval_backend"]], typer.Option(
        help="Held-out (noise2self) loss: python (torch) or julia (the partition kernels in CellWAK.jl; v2 only; "
             "training stays in torch).")] = D["eval_backend"],
    published: Annotated[bool, typer.Option("--published", help="The published optimiser: Adam rebuilt every step "
                                            "(sign steps + unscaled decay), test loss after every step.")] = False,
) -> dict:
    """DeePWAK: encoders, partitioners and decoders denoising through a partitioned WAK kernel.

    Trains the block of heads, then the consensus partitioner and the consensus encoder with the
    heads frozen (1,000 epochs each unless --epochs says otherwise, e.g.
    --epochs block=1000,consensus_partitioner=100,consensus_encoder=100). Writes obsm X_deepwak
    (consensus embedding) and deepwak_soft, obs deepwak_cluster and deepwak_head1... into the
    dataset. Tables only: for images, train on an embedding (--rep X_cellwak_pca or a feature
    extractor's).
    """
    settings = {"heads": heads, "clusters": clusters, "dim": dim, "variant": variant, "pool": pool,
                "wak_norm": wak_norm, "scaling": scaling, "alpha": alpha, "beta": beta, "gamma": gamma,
                "eval_backend": eval_backend}
    if published:
        settings[TRAIN_OVERRIDES] = dict(PUBLISHED_TRAINING)
    return settings
