"""Backbones and the projection head for DINO/CDCL on small cell crops (28-64 px).

- ``cnn`` (default): four 3x3 convolution blocks with batch norm and ReLU, widths w, 2w, 4w, 4w,
  stride 2 in the first three, then global average pooling: a ``4w``-dimensional feature. About
  0.4 M parameters at w = 32; cheap enough to train on two CPU cores.
- ``vit``: a small Vision Transformer (patch 4, pre-norm blocks, a CLS token, learned position
  embeddings) for crops whose side is a multiple of 4; the feature is the CLS token.

Head (DINO's): MLP feature -> hidden -> hidden -> bottleneck (GELU, no batch norm), L2
normalisation, then a weight-normalised linear layer to K prototypes whose norm is fixed at 1.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SmallCNN(nn.Module):
    def __init__(self, channels: int, width: int = 32):
        super().__init__()
        widths = (width, 2 * width, 4 * width, 4 * width)
        layers, c = [], channels
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, stride=2 if i < 3 else 1, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True)]
            c = w
        self.body = nn.Sequential(*layers)
        self.out_dim = c

    def forward(self, x):
        return self.body(x).mean(dim=(2, 3))


class SmallViT(nn.Module):
    def __init__(self, channels: int, size: int, dim: int = 128, depth: int = 4, heads: int = 4, patch: int = 4):
        super().__init__()
        self.patch = patch
        self.embed = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 4, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim

    def _positions(self, n_tokens: int) -> torch.Tensor:
        """Position embeddings for ``n_tokens`` patches (interpolated for the smaller local views)."""
        cls, grid = self.pos[:, :1], self.pos[:, 1:]
        if grid.shape[1] == n_tokens:
            return self.pos
        side, new = int(round(grid.shape[1] ** 0.5)), int(round(n_tokens ** 0.5))
        grid = grid.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
        return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, new * new, -1)], dim=1)

    def forward(self, x):
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1) + self._positions(tokens.shape[1])
        return self.norm(self.blocks(tokens))[:, 0]


class PrototypeLayer(nn.Module):
    """Linear layer whose weight rows are normalised to unit length (weight norm with g = 1)."""

    def __init__(self, dim: int, prototypes: int):
        super().__init__()
        self.v = nn.Parameter(torch.randn(prototypes, dim) * dim ** -0.5)
        self.frozen = False  # DINO: no gradient reaches the prototypes during the first epoch
        self.v.register_hook(lambda g: torch.zeros_like(g) if self.frozen else g)

    def forward(self, x):
        return F.linear(x, F.normalize(self.v, dim=1))


class Head(nn.Module):
    def __init__(self, in_dim: int, prototypes: int, hidden: int = 512, bottleneck: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, bottleneck))
        self.last = PrototypeLayer(bottleneck, prototypes)

    def forward(self, x):
        return self.last(F.normalize(self.mlp(x), dim=-1))


class Network(nn.Module):
    def __init__(self, backbone: nn.Module, prototypes: int, hidden: int, bottleneck: int):
        super().__init__()
        self.backbone = backbone
        self.head = Head(backbone.out_dim, prototypes, hidden, bottleneck)

    def forward(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """Head logits of each view; views of one size go through the backbone together."""
        out: list = [None] * len(views)
        sizes = sorted({v.shape[-1] for v in views})
        for s in sizes:
            idx = [i for i, v in enumerate(views) if v.shape[-1] == s]
            logits = self.head(self.backbone(torch.cat([views[i] for i in idx])))
            for i, chunk in zip(idx, logits.chunk(len(idx))):
                out[i] = chunk
        return out


def make_backbone(kind: str, channels: int, size: int, width: int) -> nn.Module:
    if kind == "cnn":
        return SmallCNN(channels, width)
    return SmallViT(channels, size, dim=4 * width)
