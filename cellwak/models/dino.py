"""``dino``: DINO self-distillation for cell crops, with CDCL's cross-domain consistency
(Fredin Haslum et al., MIDL 2023; shared/methods/extractors.md D).

Every step takes a batch of cells A and, for each, a partner B (itself for plain DINO; a cell with
the same condition from another batch for CDCL; see :mod:`._dino_views`). Views: global(A),
global(B), ``local_crops`` local views of A and as many of B. The teacher (an exponential moving
average of the student, momentum cosine-ramped from ``momentum`` to 1) sees the two globals, the
student every view.

Loss, with s_v the student logits of view v over tau_s = 0.1, t_g the teacher logits of global g,
c_d the centre of the domain (batch) g comes from, and tau_t warmed up linearly from 0.04 to 0.07
over the first 10% of the steps:

- DINO term: q_g = softmax((t_g - c_d) / tau_t); mean over the pairs (g, v), v != g, of the
  cross-entropy H(q_g, softmax(s_v)), divided by ln K (K prototypes);
- Barlow term (CDCL): per pair, the batch-standardised centred teacher logits and student logits,
  C = Z_t^T Z_s / N, (1 - lambda) mean_i (C_ii - 1)^2 + lambda mean_{i != j} C_ij^2 with
  lambda = 0.95, over (1 - lambda) + 0.01 lambda; mean over pairs;
- total = (1 - w) DINO + w Barlow (``barlow_weight`` w; CDCL's settings use 0.75).

Centering: ``single`` (DINO: c <- 0.9 c + 0.1 mean teacher logits) or ``domain`` (CDCL: one
centre per batch; a batch present in the step with share p_d of the step's cells and share f_d
of the dataset moves with weight omega_d = min(1, p_d / f_d): c_d <- c_d (0.9 + 0.1 (1 -
omega_d)) + 0.1 omega_d mean_d). The prototypes get no gradient in the first 3% of the steps
(DINO: the first of 100 epochs).

Images are standardised per channel over the dataset (``normalise='dataset'``) or per batch
(``'batch'``, CDCL's per-plate normalisation). Features: the teacher backbone on the whole crop,
``obsm['X_dino']``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from ..train.task import Stage, Task
from . import register
from .settings import CHOICES as MODEL_CHOICES
from .settings import DEFAULTS as MODEL_DEFAULTS
from ._dino_nets import Network, make_backbone
from ._dino_views import PartnerSampler, cross_batch_neighbours, multi_crop

STUDENT_TEMP = 0.1
TEACHER_TEMP = (0.04, 0.07)
CENTER_MOMENTUM = 0.9
BARLOW_LAMBDA = 0.95
LOCAL_SCALE = (0.2, 0.5)
FROZEN_PROTOTYPES = 0.03  # share of the steps without gradient to the prototypes (DINO: its first epoch)


class DINO(nn.Module):
    def __init__(self, images: torch.Tensor, centre_ids: torch.Tensor, sampler: PartnerSampler, *, backbone: str,
                 width: int, prototypes: int, hidden: int, bottleneck: int, local_crops: int,
                 barlow_weight: float, momentum: float, global_scale: float, jitter: float):
        """``centre_ids``: each cell's teacher centre (its batch for per-batch centring, all 0 for one)."""
        super().__init__()
        n, c, size = images.shape[0], images.shape[1], images.shape[-1]
        self.student = Network(make_backbone(backbone, c, size, width), prototypes, hidden, bottleneck)
        self.teacher = Network(make_backbone(backbone, c, size, width), prototypes, hidden, bottleneck)
        self.teacher.load_state_dict(self.student.state_dict())
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.register_buffer("images", images, persistent=False)
        self.register_buffer("centre_ids", centre_ids, persistent=False)
        self.register_buffer("centre_share", torch.bincount(centre_ids).float() / n, persistent=False)
        self.register_buffer("center", torch.zeros(len(self.centre_share), prototypes))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.sampler = sampler
        self.local_size = max(8, (size // 2) // 4 * 4) if backbone == "vit" else max(8, size // 2)
        self.local_crops, self.barlow_weight = local_crops, barlow_weight
        self.base_momentum, self.prototypes = momentum, prototypes
        self.global_scale, self.jitter = (global_scale, 1.0), jitter
        self.total_steps = 1
        # DDP must not broadcast the data every step (the centres are all-reduced by hand)
        self._ddp_params_and_buffers_to_ignore = ["images", "centre_ids", "centre_share"]

    def _apply(self, fn, *args, **kwargs):  # keep the sampler's tables on the images' device
        out = super()._apply(fn, *args, **kwargs)
        self.sampler.to(self.images.device)
        return out

    # -- schedules ------------------------------------------------------------------------------
    def progress(self) -> float:
        return min(1.0, float(self.steps_done) / max(1, self.total_steps))

    def teacher_temp(self) -> float:
        lo, hi = TEACHER_TEMP
        return hi if self.progress() >= 0.1 else lo + (hi - lo) * self.progress() / 0.1

    def momentum(self) -> float:
        return 1 - (1 - self.base_momentum) * (math.cos(math.pi * self.progress()) + 1) / 2

    # -- the loss -------------------------------------------------------------------------------
    def forward(self, batch: torch.Tensor, stage: str = "fit") -> torch.Tensor:
        index = batch[:, 0].long()
        partner = self.sampler(index)
        globals_, locals_ = multi_crop(self.images[index], self.images[partner], local_size=self.local_size,
                                       n_local=self.local_crops, global_scale=self.global_scale, local_scale=LOCAL_SCALE,
                                       jitter=self.jitter)
        ids = [self.centre_ids[index], self.centre_ids[partner]]
        with torch.no_grad():
            teacher = [t.float() for t in self.teacher(globals_)]
        student = [s.float() / STUDENT_TEMP for s in self.student(globals_ + locals_)]
        tau = self.teacher_temp()
        centred = [t - self.center[i] for t, i in zip(teacher, ids)]
        targets = [F.softmax(c / tau, dim=-1) for c in centred]
        dino, barlow, pairs = 0.0, 0.0, 0
        for g, q in enumerate(targets):
            for v, s in enumerate(student):
                if v == g:
                    continue
                dino = dino + torch.sum(-q * F.log_softmax(s, dim=-1), dim=-1).mean()
                if self.barlow_weight > 0:
                    barlow = barlow + _redundancy(centred[g] / tau, s)
                pairs += 1
        loss = (1 - self.barlow_weight) * dino / pairs / math.log(self.prototypes)
        if self.barlow_weight > 0:
            loss = loss + self.barlow_weight * barlow / pairs / ((1 - BARLOW_LAMBDA) + 0.01 * BARLOW_LAMBDA)
        if self.training:
            self._update_centres(teacher, ids)
        return loss

    @torch.no_grad()
    def _update_centres(self, teacher: list[torch.Tensor], ids: list[torch.Tensor]) -> None:
        """CDCL's weighted update; with one centre (omega = 1) it is DINO's c <- 0.9 c + 0.1 mean."""
        logits, d = torch.cat(teacher), torch.cat(ids)
        sums = torch.zeros_like(self.center).index_add_(0, d, logits)
        counts = torch.bincount(d, minlength=len(self.center)).float()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(sums)
            torch.distributed.all_reduce(counts)
        present = counts > 0
        mean = sums[present] / counts[present, None]
        omega = (counts[present] / counts.sum() / self.centre_share[present]).clamp(max=1.0)[:, None]
        keep = CENTER_MOMENTUM + (1 - CENTER_MOMENTUM) * (1 - omega)
        self.center[present] = self.center[present] * keep + mean * (1 - CENTER_MOMENTUM) * omega

    @torch.no_grad()
    def after_step(self, update: bool = True) -> None:
        """The teacher's moving average and the step count (``update=False``: only the flags)."""
        if update:
            m = self.momentum()
            for pt, ps in zip(self.teacher.parameters(), self.student.parameters()):
                pt.mul_(m).add_(ps.detach(), alpha=1 - m)
            self.steps_done += 1
        self.student.head.last.frozen = self.progress() < FROZEN_PROTOTYPES

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.teacher.backbone(images)


def _redundancy(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """CDCL's Barlow-style term between batch-standardised teacher and student logits."""
    zt = (teacher - teacher.mean(0)) / (teacher.std(0, unbiased=False) + 1e-5)
    zs = (student - student.mean(0)) / (student.std(0, unbiased=False) + 1e-5)
    c = zt.T @ zs / len(zt)
    on = (torch.diagonal(c) - 1).pow(2).mean()
    off = (c.pow(2).sum() - torch.diagonal(c).pow(2).sum()) / (c.numel() - len(c))
    return (1 - BARLOW_LAMBDA) * on + BARLOW_LAMBDA * off


class DINOTask(Task):
    name = "dino"
    train_defaults = {"lr": 5e-4, "weight_decay": 0.04}

    def __init__(self, model: DINO, config: dict):
        self.model, self.config = model, config
        self.data = torch.arange(model.images.shape[0], dtype=torch.float32)[:, None]  # cell indices

    def stages(self) -> list[Stage]:
        return [Stage("fit", 30, self.model.student.parameters)]

    def default_batch_size(self, n_train: int) -> int:
        return min(128, n_train)

    def configure_scheduler(self, optimizer, stage, total_steps: int):
        """Linear warm-up over the first 10% of steps, then cosine decay to 1% of the rate."""
        self.model.total_steps = max(1, total_steps)
        self.model.after_step(update=False)
        warm = max(1, total_steps // 10)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            t = (step - warm) / max(1, total_steps - warm)
            return 0.01 + 0.99 * (math.cos(math.pi * min(1.0, t)) + 1) / 2

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def after_step(self, stage: str) -> None:
        self.model.after_step()

    @torch.no_grad()
    def outputs(self, data: torch.Tensor) -> dict[str, np.ndarray]:
        self.model.eval()
        parts = [self.model.features(chunk).float().cpu() for chunk in self.model.images.split(1024)]
        return {"obsm/X_dino": torch.cat(parts).numpy()}


DEFAULTS = MODEL_DEFAULTS["dino"]
PAIRS = MODEL_CHOICES["dino"]["pairs"]


@register("dino", defaults=DEFAULTS, data_kind="image", uses_cells=True,
          description="DINO (EMA teacher, multi-crop) with CDCL's cross-batch pairs, per-batch centres and Barlow term")
def create(data, *, cells, **settings) -> DINOTask:
    _check(**settings)
    s = settings
    pairs, centering, normalise, backbone = s["pairs"], s["centering"], s["normalise"], s["backbone"]
    X = torch.as_tensor(np.asarray(data, dtype=np.float32))
    if X.ndim != 4:
        raise InputError(f"DINO needs images (cells x channels x height x width), got shape {tuple(X.shape)}")
    if X.shape[-1] != X.shape[-2]:
        raise InputError(f"DINO needs square crops, got {X.shape[-2]} x {X.shape[-1]}")
    if X.shape[-1] > 64:  # the backbones are sized for small crops
        X = F.interpolate(X, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    if backbone == "vit" and X.shape[-1] % 4:
        side = X.shape[-1] // 4 * 4 + 4
        X = F.interpolate(X, size=(side, side), mode="bilinear", align_corners=False)
    needs_batches = pairs != "same" or centering == "domain" or normalise == "batch"
    batches = cells.batches() if needs_batches else None
    if needs_batches and batches is None:
        raise InputError("this dataset has no batch column, which --pairs condition/neighbours, --centering domain "
                         "and --normalise batch need", "add the dataset with --batch COLUMN, or try "
                         "`cellwak data simulate-batches`")
    one = np.zeros(len(X), dtype=np.int64)  # every cell in one group
    domains = np.unique(batches, return_inverse=True)[1] if batches is not None else one
    if needs_batches and domains.max() < 1:
        raise InputError("the batch column holds a single batch; cross-batch training needs at least two")
    X = standardise_channels(X, domains if normalise == "batch" else one)
    sampler = _sampler(pairs, s["condition"], cells, X, batches, s["neighbours"])
    centre_ids = domains if centering == "domain" else one
    model = DINO(X.contiguous(), torch.as_tensor(centre_ids, dtype=torch.long), sampler,
                 **{k: s[k] for k in ("backbone", "width", "prototypes", "hidden", "bottleneck", "local_crops",
                                      "barlow_weight", "momentum", "global_scale", "jitter")})
    return DINOTask(model, {**settings, "size": int(X.shape[-1]), "domains": int(domains.max()) + 1})


def _check(**s) -> None:
    if s["backbone"] not in ("cnn", "vit"):
        raise InputError(f"unknown --backbone {s['backbone']!r}", "choose cnn or vit")
    if s["pairs"] not in PAIRS:
        raise InputError(f"unknown --pairs {s['pairs']!r}", f"choose {', '.join(PAIRS)}")
    if s["centering"] not in ("single", "domain"):
        raise InputError(f"unknown --centering {s['centering']!r}", "choose single or domain")
    if s["normalise"] not in ("dataset", "batch"):
        raise InputError(f"unknown --normalise {s['normalise']!r}", "choose dataset or batch")
    for key in ("width", "prototypes", "hidden", "bottleneck", "neighbours"):
        if s[key] < 1:
            raise InputError(f"--{key} must be at least 1, got {s[key]}")
    if s["prototypes"] < 2:
        raise InputError(f"--prototypes must be at least 2, got {s['prototypes']}")
    if s["local_crops"] < 0:
        raise InputError(f"--local-crops must be 0 or more, got {s['local_crops']}")
    if not 0 <= s["barlow_weight"] < 1:
        raise InputError(f"--barlow-weight must be in [0, 1), got {s['barlow_weight']:g}")
    if not 0 < s["global_scale"] <= 1:
        raise InputError(f"--global-scale must be in (0, 1], got {s['global_scale']:g}")
    if not 0 <= s["jitter"] <= 1:
        raise InputError(f"--jitter must be in [0, 1], got {s['jitter']:g}")
    if not 0 <= s["momentum"] < 1:
        raise InputError(f"--momentum must be in [0, 1), got {s['momentum']:g}")


def standardise_channels(X: torch.Tensor, groups: np.ndarray) -> torch.Tensor:
    """Each channel to zero mean and unit variance within each group (the dataset or a batch)."""
    out = torch.empty_like(X)
    for g in np.unique(groups):
        rows = torch.as_tensor(groups == g)
        part = X[rows]
        mean = part.mean(dim=(0, 2, 3), keepdim=True)
        std = part.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        out[rows] = (part - mean) / std
    return out


def _sampler(pairs: str, condition: str, cells, X: torch.Tensor, batches, k: int) -> PartnerSampler:
    if pairs == "same":
        return PartnerSampler("same")
    if pairs == "neighbours":
        return PartnerSampler("neighbours", neighbours=cross_batch_neighbours(X.numpy(), batches, k=k))
    values = cells.column(condition) if condition else cells.labels()
    if values is None:
        raise InputError("--pairs condition needs a condition for each cell, and this dataset has no label column",
                         "name an obs column with --condition COLUMN, or use --pairs neighbours (label-free)")
    return PartnerSampler("condition", batches=batches, conditions=values)
