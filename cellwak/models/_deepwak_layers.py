"""Building blocks of the DeePWAK network (shared methods/deepwak.md 1.5-1.6), in torch.

Rows are cells. Weights start Xavier-uniform with zero biases, as Flux's defaults in the reference.
"""

from __future__ import annotations

import math

import torch
from torch import nn

EPS = float(torch.finfo(torch.float32).eps)


def xavier(module: nn.Module) -> nn.Module:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module


def mlp(widths: list[int], activation: type[nn.Module] | None, last_activation: type[nn.Module] | None) -> nn.Sequential:
    """Dense layers widths[0] -> ... -> widths[-1]."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        act = last_activation if i == len(widths) - 2 else activation
        if act is not None:
            layers.append(act())
    return xavier(nn.Sequential(*layers))


def halving_widths(m: int, d: int) -> list[int]:
    """m -> ceil((m+1)/2) -> ceil(that/2) -> d: the reference's 114 -> 58 -> 29 -> 14."""
    h1 = math.ceil((m + 1) / 2)
    return [m, h1, math.ceil(h1 / 2), d]


def partitioner(m: int, c: int, hidden_layers: int = 3) -> nn.Sequential:
    """``mlp4x``: Dense(m -> 4 n0) linear, hidden_layers x Dense(4 n0 -> 4 n0, sigmoid), Dense(4 n0 -> c)
    linear, softmax; n0 = max(m, c). 684,014 parameters for m = 114, c = 14."""
    width = 4 * max(m, c)
    layers: list[nn.Module] = [nn.Linear(m, width)]
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, width), nn.Sigmoid()]
    layers += [nn.Linear(width, c), nn.Softmax(dim=-1)]
    return xavier(nn.Sequential(*layers))


def wak(A: torch.Tensor, norm: str = "col") -> torch.Tensor:
    """WAK of a dense batch affinity: zero diagonal, then columns (or rows) sum to one."""
    A = A - torch.diag_embed(torch.diagonal(A, dim1=-2, dim2=-1))
    if norm == "col":
        return A / (A.sum(dim=-2, keepdim=True) + EPS)
    sums = A.sum(dim=-1, keepdim=True)
    return torch.where(sums > 0, A / sums.clamp_min(EPS), torch.zeros_like(A))


def pwak(C: torch.Tensor, norm: str = "col") -> torch.Tensor:
    """WAK(C C^T) for a soft partition C (batch x clusters)."""
    return wak(C @ C.transpose(-2, -1), norm)


def pairwise_distance(E: torch.Tensor) -> torch.Tensor:
    """Differentiable Euclidean distances (Gram trick), sqrt(d^2 + eps) as in the reference."""
    sq = (E * E).sum(dim=-1)
    d2 = (sq[:, None] + sq[None, :] - 2 * E @ E.T).clamp_min(0.0)
    return torch.sqrt(d2 + EPS)


def entropy_bits(M: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (bits) of |M| normalised to sum 1 along dim 0, averaged over columns."""
    P = M.abs()
    P = P / (P.sum(dim=0, keepdim=True) + EPS)
    return -(P * torch.log2(P + EPS)).sum(dim=0).mean()


def softmod_v1(G: torch.Tensor, P: torch.Tensor, gamma: float) -> torch.Tensor:
    """DeePWAK V1's ``softmod`` (not standard modularity; see cellwak.graph.kernels.softmod_v1)."""
    e = (P @ G.T).sum(dim=1)
    K = (P @ G).sum(dim=1)
    mu = e.mean()
    return (e - gamma * K ** 2 / (2 * mu)).sum() / (2 * mu)
