"""``vime``: VIME for tables and cytometry (Yoon et al., NeurIPS 2020; shared/methods/extractors.md C).

Features are min-max scaled to [0, 1] (VIME's own scaling; for cytometry add the FCS file with
``cellwak data add ... --arcsinh 5`` first). Two stages:

``self`` (self-supervised, every cell): a mask m ~ Bernoulli(p_m) per entry corrupts each cell,
x~ = (1 - m) * x + m * x_bar, where x_bar takes each feature from another cell (every column
permuted independently, as VIME does; the CytoAutoCluster template permuted whole rows). The
encoder (m -> m, ReLU) feeds a mask estimator (sigmoid, BCE against m) and a feature estimator
(sigmoid, MSE against x): loss = BCE + alpha * MSE.

``semi`` (semi-supervised, only when the dataset has labels and ``label_fraction`` > 0): the
encoder is frozen; a predictor (100 -> 100 -> classes, ReLU) learns from the cells whose label it
may see (a seeded ``label_fraction`` of the labelled cells) with cross-entropy, plus beta times
the consistency term of VIME proper: the variance of the predictions across K corrupted copies
*of the same cell* (the template's variance over the whole batch is a known bug). The held-out
cells report the loss and the accuracy on their true labels (the honest figure).

Each cell's row carries two extra columns in the task's data (its class code, -1 if unlabelled,
and whether the label is visible), so minibatches bring their labels along.

Outputs: ``obsm['X_vime']`` (the encoder), and after ``semi`` ``obs['vime_prediction']`` and
``obsm['vime_proba']``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from ..train.task import Stage, Task
from . import register
from .settings import DEFAULTS as MODEL_DEFAULTS


def corrupt(x: torch.Tensor, p_m: float, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(corrupted x, mask): masked entries take the value of the same feature in another cell of
    the batch, each column permuted on its own."""
    n, m = x.shape
    mask = (torch.rand(n, m, generator=generator, device=x.device) < p_m).to(x.dtype)
    order = torch.argsort(torch.rand(n, m, generator=generator, device=x.device), dim=0)
    shuffled = torch.gather(x, 0, order)
    return x * (1 - mask) + shuffled * mask, mask


class VIME(nn.Module):
    def __init__(self, m: int, hidden: int, classes: int, p_m: float, alpha: float, beta: float, k: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(m, hidden), nn.ReLU())
        self.mask_head = nn.Linear(hidden, m)
        self.feature_head = nn.Linear(hidden, m)
        self.predictor = (nn.Sequential(nn.Linear(hidden, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                                        nn.Linear(100, classes)) if classes else None)
        self.m, self.p_m, self.alpha, self.beta, self.k = m, p_m, alpha, beta, k

    def self_loss(self, x: torch.Tensor) -> torch.Tensor:
        corrupted, mask = corrupt(x, self.p_m)
        h = self.encoder(corrupted)
        bce = F.binary_cross_entropy_with_logits(self.mask_head(h), mask)
        mse = F.mse_loss(torch.sigmoid(self.feature_head(h)), x)
        return bce + self.alpha * mse

    def semi_loss(self, x: torch.Tensor, y: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros(())
        if visible.any():
            loss = F.cross_entropy(self.predictor(self.encoder(x[visible])), y[visible])
        hidden = ~visible
        if self.beta and hidden.any():
            u = x[hidden]
            copies = torch.stack([self.predictor(self.encoder(corrupt(u, self.p_m)[0])) for _ in range(self.k)])
            loss = loss + self.beta * copies.softmax(-1).var(dim=0, unbiased=False).sum(-1).mean()
        return loss

    def forward(self, batch: torch.Tensor, stage: str = "self") -> torch.Tensor:
        x = batch[:, :self.m]
        if stage == "self":
            return self.self_loss(x)
        y, visible = batch[:, self.m].long(), batch[:, self.m + 1] > 0
        return self.semi_loss(x, y, visible)


class VIMETask(Task):
    name = "vime"
    train_defaults = {"lr": 1e-3}

    def __init__(self, model: VIME, data: torch.Tensor, classes: list[str], config: dict):
        self.model, self.data, self.classes, self.config = model, data, classes, config

    def stages(self) -> list[Stage]:
        stages = [Stage("self", self.config["self_epochs"], lambda: list(self.model.encoder.parameters())
                        + list(self.model.mask_head.parameters()) + list(self.model.feature_head.parameters()))]
        if self.model.predictor is not None:
            stages.append(Stage("semi", self.config["semi_epochs"], self.model.predictor.parameters))
        return stages

    def default_batch_size(self, n_train: int) -> int:
        return min(128, n_train)  # VIME's batch

    @torch.no_grad()
    def evaluate(self, batch: torch.Tensor, stage: str) -> dict[str, float]:
        out = {"loss": float(self.model(batch, stage))}
        if stage == "semi":
            m = self.model.m
            y = batch[:, m].long()
            labelled = y >= 0
            if labelled.any():
                pred = self.model.predictor(self.model.encoder(batch[labelled, :m])).argmax(-1)
                out["accuracy"] = float((pred == y[labelled]).float().mean())
        return out

    @torch.no_grad()
    def outputs(self, data: torch.Tensor) -> dict[str, np.ndarray]:
        device = next(self.model.parameters()).device
        m = self.model.m
        emb, proba = [], []
        for chunk in data.split(65536):
            h = self.model.encoder(chunk[:, :m].to(device))
            emb.append(h.float().cpu())
            if self.model.predictor is not None:
                proba.append(self.model.predictor(h).softmax(-1).float().cpu())
        out = {"obsm/X_vime": torch.cat(emb).numpy()}
        if proba:
            p = torch.cat(proba).numpy()
            out["obsm/vime_proba"] = p
            out["obs/vime_prediction"] = np.asarray(self.classes, dtype=object)[p.argmax(1)].astype(str)
        return out


DEFAULTS = MODEL_DEFAULTS["vime"]


@register("vime", defaults=DEFAULTS, data_kind="table", uses_labels=True,
          description="VIME: self-supervised mask/feature estimation, then a semi-supervised predictor; writes obsm['X_vime']")
def create(data, *, labels, hidden, p_m, alpha, beta, k, label_fraction, self_epochs, semi_epochs) -> VIMETask:
    if not 0 < p_m < 1:
        raise InputError(f"--p-m must be between 0 and 1, got {p_m:g}")
    if alpha < 0 or beta < 0:
        raise InputError(f"--alpha and --beta must be 0 or more, got {alpha:g} and {beta:g}")
    if k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    if not 0 <= label_fraction <= 1:
        raise InputError(f"--label-fraction must be between 0 and 1, got {label_fraction:g}")
    if hidden < 0:
        raise InputError(f"--hidden must be 0 (as many as features) or more, got {hidden}")
    X = np.asarray(data, dtype=np.float32)
    if X.ndim != 2:
        raise InputError(f"VIME needs a cells x features table, got shape {X.shape}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    X = (X - lo) / np.where(hi > lo, hi - lo, 1)  # VIME's min-max scaling to [0, 1]
    codes, classes, visible = _label_columns(labels, len(X), label_fraction)
    semi = label_fraction > 0 and classes
    m = X.shape[1]
    model = VIME(m, hidden or m, len(classes) if semi else 0, p_m, alpha, beta, k)
    table = np.concatenate([X, codes[:, None], visible[:, None]], axis=1).astype(np.float32)
    config = {"hidden": hidden or m, "p_m": p_m, "alpha": alpha, "beta": beta, "k": k,
              "label_fraction": label_fraction, "self_epochs": self_epochs, "semi_epochs": semi_epochs,
              "classes": classes, "labels_visible": int(visible.sum()), "semi": bool(semi)}
    return VIMETask(model, torch.as_tensor(table), classes, config)


def _label_columns(labels, n: int, fraction: float) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Class codes (-1: no label), class names, and which labels the predictor may see (a
    fraction of the labelled cells, drawn with torch's seeded generator)."""
    codes = np.full(n, -1.0, dtype=np.float32)
    visible = np.zeros(n, dtype=np.float32)
    if labels is None:
        return codes, [], visible
    labels = np.asarray(labels, dtype=object)
    have = np.array([v is not None for v in labels])
    if not have.any():
        return codes, [], visible
    classes = sorted({str(v) for v in labels[have]})
    lookup = {c: i for i, c in enumerate(classes)}
    codes[have] = [lookup[str(v)] for v in labels[have]]
    labelled = np.flatnonzero(have)
    take = int(round(fraction * labelled.size))
    if fraction > 0:
        take = max(take, 1)
    chosen = labelled[torch.randperm(labelled.size)[:take].numpy()]
    visible[chosen] = 1.0
    return codes, classes, visible
