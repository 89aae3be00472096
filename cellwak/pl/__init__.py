"""Figures a paper would print, drawn by R (ggplot2, ComplexHeatmap, igraph) through rpy2::

    import cellwak as cw
    cw.pl.embedding(adata, "cellwak_leiden", out="umap.png")
    cw.pl.heatmap(adata, "cellwak_leiden", out="markers.pdf", statistic="median")

Each function takes an AnnData (scanpy-shaped: ``adata`` first, nothing written into it) or a
table, computes the per-cluster summary R needs in Python, writes one .png/.pdf/.svg file and
returns its path (displayed inline in Jupyter). Needs R with the packages of ``cellwak doctor``
and rpy2; without them each raises a :class:`cellwak.errors.CellwakError` naming the install
command. The workspace operation is :func:`cellwak.api.plot` (``cellwak plot``).
"""

from __future__ import annotations

from ..backends.r import FIGURES
from ._figures import (
    composition,
    embedding,
    enrichment,
    heatmap,
    loss,
    montage,
    string,
    sweep,
)

KINDS = tuple(FIGURES)

__all__ = ["composition", "embedding", "enrichment", "heatmap", "loss", "montage", "string", "sweep"]
