"""``cellwak train dino``: DINO and CDCL image feature extractors as runs."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from .train import model_command

# what --cdcl sets where the user left an option unset (CDCL's params.json: w = 0.75)
CDCL = {"pairs": "condition", "centering": "domain", "barlow_weight": 0.75}
D, C = api.model_defaults("dino"), api.model_choices("dino")


@model_command("dino")
def dino(
    cdcl: Annotated[bool, typer.Option("--cdcl", help="CDCL: --pairs condition, --centering domain, --barlow-weight "
                                       "0.75 (where not given).")] = False,
    pairs: Annotated[Optional[Literal[C["pairs"]]], typer.Option(
        help="Second global view from: same (the cell itself, DINO), condition (same condition, other batch: CDCL) or "
             "neighbours (nearest cells of other batches: label-free).", show_default=D["pairs"])] = None,
    condition: Annotated[str, typer.Option(help="obs column pairing cells for --pairs condition (default: the dataset's "
                                                "label column).")] = D["condition"],
    centering: Annotated[Optional[Literal[C["centering"]]], typer.Option(
        help="single (one teacher centre) or domain (one per batch, CDCL).", show_default=D["centering"])] = None,
    barlow_weight: Annotated[Optional[float], typer.Option(help="Weight w of CDCL's Barlow term: (1-w) DINO + w Barlow.",
                                                           show_default=str(D["barlow_weight"]))] = None,
    normalise: Annotated[Literal[C["normalise"]], typer.Option(
        help="Standardise channels over the dataset or per batch (CDCL's per-plate).")] = D["normalise"],
    backbone: Annotated[Literal[C["backbone"]], typer.Option(
        help="cnn (small ConvNet, fast on a CPU) or vit (small ViT, patch 4).")] = D["backbone"],
    width: Annotated[int, typer.Option(help="Backbone width w (features: 4w dimensions, obsm X_dino).")] = D["width"],
    prototypes: Annotated[int, typer.Option(help="Output prototypes K of the head.")] = D["prototypes"],
    global_scale: Annotated[float, typer.Option(help="Smallest area share of a global view's random crop (1: no zoom; "
                                                     "keep size information).")] = D["global_scale"],
    jitter: Annotated[float, typer.Option(help="Share of views with per-channel intensity jitter (0: keep intensities, "
                                               "e.g. DNA content).")] = D["jitter"],
    local_crops: Annotated[int, typer.Option(help="Local (half-size) views per image of a pair.")] = D["local_crops"],
    momentum: Annotated[float, typer.Option(help="Teacher EMA momentum at the start (cosine to 1).")] = D["momentum"],
    neighbours: Annotated[int, typer.Option(help="Candidates per cell for --pairs neighbours.")] = D["neighbours"],
) -> dict:
    """DINO self-distillation on image crops (EMA teacher, multi-crop views, centering), with
    CDCL's cross-batch consistency: --cdcl pairs each cell with one of the same condition from
    another batch, keeps one teacher centre per batch and adds the Barlow term.

    Needs a batch column for --cdcl / --pairs / --centering domain (`cellwak data add --batch`
    or `cellwak data simulate-batches`). Writes obsm X_dino; then
    `cellwak cluster --rep X_dino --gamma auto`.
    """
    chosen = {"pairs": pairs, "centering": centering, "barlow_weight": barlow_weight}
    base = {**{k: D[k] for k in chosen}, **(CDCL if cdcl else {})}
    return {**base, **{k: v for k, v in chosen.items() if v is not None}, "condition": condition,
            "normalise": normalise, "backbone": backbone, "width": width, "prototypes": prototypes,
            "local_crops": local_crops, "global_scale": global_scale, "jitter": jitter, "momentum": momentum,
            "neighbours": neighbours}
