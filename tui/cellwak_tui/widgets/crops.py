"""A grid of cell crops drawn in the terminal.

The crops arrive as RGB arrays (:func:`cellwak.api.crops`) and are tiled into one montage, drawn
by textual-image: as Sixel or kitty-protocol graphics where the terminal speaks one of them
(detected before the app starts, see :func:`graphics_class`), else as coloured half-block
characters (two pixels per character cell), which every colour terminal and tmux shows."""

from __future__ import annotations

import math

import numpy as np
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

_IMAGE_CLASS = None


def graphics_class(protocol: str | None = None):
    """The textual-image widget for ``protocol`` (sixel | tgp | anything else: half-block)."""
    from textual_image import widget

    return {"sixel": widget.SixelImage, "tgp": widget.TGPImage}.get(protocol or "", widget.HalfcellImage)


def set_protocol(protocol: str | None) -> None:
    """Chosen once by the app before it starts (the terminal cannot be asked afterwards)."""
    global _IMAGE_CLASS
    _IMAGE_CLASS = graphics_class(protocol)


def montage(rgb: np.ndarray, columns: int, gap: int = 2, background: int = 24) -> np.ndarray:
    """(n, H, W, 3) crops tiled ``columns`` per row with ``gap`` pixels between them."""
    n, h, w, _ = rgb.shape
    rows = max(1, math.ceil(n / columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), background, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = rgb[i]
    return out


class CropGrid(Vertical):
    """A caption and a montage of crops; ``show(crops)`` with a :class:`cellwak.api.views.Crops`."""

    DEFAULT_CSS = """
    CropGrid { height: auto; }
    CropGrid > .crop-caption { color: $text-muted; }
    CropGrid > .crop-image { width: auto; height: auto; }
    """

    def __init__(self, max_columns: int = 8, cell_width: int = 14, **kwargs):
        super().__init__(**kwargs)
        self.max_columns, self.cell_width = max_columns, cell_width  # a crop is cell_width characters wide

    def compose(self) -> ComposeResult:
        yield Static("", classes="crop-caption")

    def clear(self, caption: str = "") -> None:
        for image in self.query(".crop-image"):
            image.remove()
        self.query_one(".crop-caption", Static).update(caption)

    def show(self, crops, caption: str) -> None:
        from PIL import Image as PILImage

        self.clear(caption)
        if crops.rgb is None or not len(crops.rgb):
            return
        fit = max(1, (self.size.width + 1) // (self.cell_width + 1)) if self.size.width else self.max_columns
        columns = max(1, min(self.max_columns, fit, len(crops.rgb)))
        picture = PILImage.fromarray(montage(crops.rgb, columns))
        image_class = _IMAGE_CLASS or graphics_class()
        widget = image_class(picture, classes="crop-image")
        rows = math.ceil(len(crops.rgb) / columns)
        widget.styles.width = columns * (self.cell_width + 1) - 1
        widget.styles.height = max(2, round(rows * (self.cell_width + 1) / 2))  # a cell is twice as tall as wide
        self.mount(widget)
