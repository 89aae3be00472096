"""Optimisers: persistent AdamW (the default) and the DeePWAK reference's ``adam-reset``.

The DeePWAK reference calls ``Flux.setup`` inside every update, so Adam's moments are rebuilt at
each step and every update is Adam's first: with m = (1-b1) g, v = (1-b2) g^2 and bias
correction, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps), a sign-SGD step.
Flux chains ``WeightDecay(wd)`` after it, which adds ``wd * p`` to the update *without* the
learning rate. Hence, per parameter::

    p <- p - lr * g / (|g| + eps) - weight_decay * p

(see shared/methods/deepwak.md 1.9 item 1). ``adamw`` is torch's AdamW with its state kept
across steps (its weight decay is multiplied by the learning rate, as in Loshchilov & Hutter).
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from ..errors import InputError


class AdamReset(Optimizer):
    """Adam with its state rebuilt every step, chained with unscaled weight decay (Flux's
    ``OptimiserChain(Adam(lr), WeightDecay(wd))`` re-set up before each update)."""

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.0, eps: float = 1e-8):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                update = g / (g.abs() + eps) * lr
                if wd:
                    update = update + wd * p
                p.sub_(update)
        return loss


def build_optimizer(name: str, params, lr: float, weight_decay: float) -> Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise InputError("this training stage has no parameters to optimise")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "adam-reset":
        return AdamReset(params, lr=lr, weight_decay=weight_decay)
    raise InputError(f"unknown --optimizer {name!r}", "choose adamw or adam-reset")
