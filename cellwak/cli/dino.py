"""``cellwak train dino``: DINO and CDCL image feature extractors as runs."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .train import model_command

# what --cdcl sets where the user left an option unset (CDCL's params.json: w = 0.75)
CDCL = {"pairs": "condition", "centering": "domain", "barlow_weight": 0.75}


@model_command("dino")
def dino(
    cdcl: Annotated[bool, typer.Option("--cdcl", help="CDCL: --pairs condition, --centering domain, --barlow-weight 0.75 (where not given).")] = False,
    pairs: Annotated[Optional[str], typer.Option(help="Second global view from: same (the cell itself, DINO), condition (same condition, other batch: CDCL) or neighbours (nearest cells of other batches: label-free).", show_default="same")] = None,
    condition: Annotated[str, typer.Option(help="obs column pairing cells for --pairs condition (default: the dataset's label column).")] = "",
    centering: Annotated[Optional[str], typer.Option(help="single (one teacher centre) or domain (one per batch, CDCL).", show_default="single")] = None,
    barlow_weight: Annotated[Optional[float], typer.Option(help="Weight w of CDCL's Barlow term: (1-w) DINO + w Barlow.", show_default="0")] = None,
    normalise: Annotated[str, typer.Option(help="Standardise channels over the dataset or per batch (CDCL's per-plate).")] = "dataset",
    backbone: Annotated[str, typer.Option(help="cnn (small ConvNet, fast on a CPU) or vit (small ViT, patch 4).")] = "cnn",
    width: Annotated[int, typer.Option(help="Backbone width w (features: 4w dimensions, obsm['X_dino']).")] = 32,
    prototypes: Annotated[int, typer.Option(help="Output prototypes K of the head.")] = 1024,
    global_scale: Annotated[float, typer.Option(help="Smallest area share of a global view's random crop (1: no zoom; keep size information).")] = 0.6,
    jitter: Annotated[float, typer.Option(help="Share of views with per-channel intensity jitter (0: keep intensities, e.g. DNA content).")] = 0.5,
    local_crops: Annotated[int, typer.Option(help="Local (half-size) views per image of a pair.")] = 2,
    momentum: Annotated[float, typer.Option(help="Teacher EMA momentum at the start (cosine to 1).")] = 0.996,
    neighbours: Annotated[int, typer.Option(help="Candidates per cell for --pairs neighbours.")] = 10,
) -> dict:
    """DINO self-distillation on image crops (EMA teacher, multi-crop views, centering), with
    CDCL's cross-batch consistency: --cdcl pairs each cell with one of the same condition from
    another batch, keeps one teacher centre per batch and adds the Barlow term.

    Needs a batch column for --cdcl / --pairs / --centering domain (`cellwak data add --batch`
    or `cellwak data simulate-batches`). Writes obsm['X_dino']; then
    `cellwak cluster --rep X_dino --gamma auto`.
    """
    from ..models import model_info

    chosen = {"pairs": pairs, "centering": centering, "barlow_weight": barlow_weight}
    base = {**{k: model_info("dino").defaults[k] for k in chosen}, **(CDCL if cdcl else {})}
    return {**base, **{k: v for k, v in chosen.items() if v is not None}, "condition": condition,
            "normalise": normalise, "backbone": backbone, "width": width, "prototypes": prototypes,
            "local_crops": local_crops, "global_scale": global_scale, "jitter": jitter, "momentum": momentum,
            "neighbours": neighbours}
