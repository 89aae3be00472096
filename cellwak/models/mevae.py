"""``mevae`` and ``vae``: the multi-encoder VAE (Ternes et al. 2022; shared/methods/extractors.md A)
and the plain / beta-VAE baseline on the same backbone.

Backbone (the Keras original, A.3): encoder = 3 x [Conv 3x3 stride 2, ReLU] with 16-32-64
filters, Dense(128, ReLU), heads mu and l (latent ``dim``); decoder = Dense -> 64 x S/8 x S/8 ->
3 x [ConvTranspose stride 2, ReLU] (64-32-16) -> ConvTranspose(C, stride 1), sigmoid. Crops are
resized to S = the next multiple of 8 (28 -> 32) and scaled to [0, 1] (``normalise``, below).

ME-VAE: the canonical target of every cell (major axis vertical, one polarity; see
:mod:`cellwak.pp.transforms`) is computed once; each step encoder 1 sees the target turned by a
random angle and encoder 2 the target flipped top to bottom with probability 1/2. The sampled
codes are combined (``product``, the published choice; ``mean`` or ``concat`` as ablations) and
one decoder reconstructs the target. Loss = reconstruction + beta * (KL_1 + KL_2) / 2 (beta = 1 as
published); the reconstruction is S^2 * BCE as published (``likelihood='bce'``) or, by default,
the sigma-VAE's Gaussian term D/2 * log(MSE) (``gaussian``; see :func:`reconstruction`).
``loss='faithful'`` reproduces the published inconsistency (sampling reads l as log sigma^2, the KL
as log sigma); ``clean`` uses log sigma^2 in both.

Five settings keep the product of codes open and informative on real crops (issue 16; numbers in
benchmarks/BENCHMARKS.md, section mevae-real); ``free_bits=0, warmup=0, background='zero',
likelihood='bce', normalise='crop'`` is the published behaviour:

- ``free_bits`` (default 0.5 nats): each latent dimension's batch-mean KL, per encoder, counts as at
  least this much. Through a product a dimension helps the reconstruction only via mu_1 * mu_2, a
  fourth-order gain near the prior against a second-order KL cost, so with the published loss
  every dimension that is not open early closes and stays closed (2 of 32 left on blood_pbc28).
- ``warmup`` (default 0.5 of the training steps): the KL weight and the sampling noise
  (Keras' ``epsilon_std``) rise linearly from 0, so training starts as a deterministic
  autoencoder of the product and the codes leave the prior before noise and KL arrive.
- ``background`` (default ``border``): the median of each crop's outer frame is its background;
  moments weigh |crop - background| and rotations fill the uncovered corners with it. With
  ``zero`` (published; right for dark fluorescence crops) a bright-field or stained crop is aligned
  on its background and every rotated view and target gains black corners (11% of the target
  pixels on blood_pbc28).
- ``likelihood`` (default ``gaussian``): BCE on grey-level pixels has a fixed curvature y(1 - y)
  (about 0.16 on blood crops, whose pixels differ by 0.017 between cells), so the KL wins and the
  codes keep only coarse shape; the sigma-VAE's optimal variance makes the reconstruction's weight
  grow as it improves (numbers: benchmarks/BENCHMARKS.md, section mevae-real).
- ``normalise`` (default ``dataset``): pixels are divided by each channel's maximum over all crops;
  ``crop`` divides each crop by its own maximum (published), which removes a crop's total intensity,
  on jurkat_cellcycle the DNA content that carries the cell-cycle signal.

Features (``obsm['X_mevae']``): mu_1 (of the crop as it is) times mu_2 (of the crop aligned, its
polarity untouched), deterministic; ``export='stochastic'`` uses sampled codes as published.
VAE: one encoder on the crop as it is, reconstructing it; loss reconstruction + beta * KL (clean);
``obsm['X_vae']`` = mu.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from .transforms import align, border_background, canonical, randomised_views
from ..train.task import Stage, Task
from . import register
from .settings import DEFAULTS as MODEL_DEFAULTS

FILTERS = (16, 32, 64)


class Encoder(nn.Module):
    def __init__(self, channels: int, size: int, dim: int, hidden: int = 128):
        super().__init__()
        layers, c = [], channels
        for f in FILTERS:
            layers += [nn.Conv2d(c, f, 3, stride=2, padding=1), nn.ReLU()]
            c = f
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.dense = nn.Sequential(nn.Linear(c * (size // 8) ** 2, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, dim), nn.Linear(hidden, dim)

    def forward(self, x):
        h = self.dense(self.conv(x))
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    def __init__(self, channels: int, size: int, dim: int):
        super().__init__()
        self.side = size // 8
        self.dense = nn.Sequential(nn.Linear(dim, FILTERS[-1] * self.side ** 2), nn.ReLU())
        layers, c = [], FILTERS[-1]
        for f in (64, 32, 16):
            layers += [nn.ConvTranspose2d(c, f, 3, stride=2, padding=1, output_padding=1), nn.ReLU()]
            c = f
        layers += [nn.ConvTranspose2d(c, channels, 3, stride=1, padding=1), nn.Sigmoid()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):
        return self.deconv(self.dense(z).view(z.shape[0], FILTERS[-1], self.side, self.side))


def kl(mu, l, faithful: bool, per_dim: bool = False):
    """KL to N(0, I) per cell, summed over dimensions (``per_dim``: not summed); ``faithful`` reads
    l as log sigma."""
    terms = (1 + 2 * l - mu ** 2 - torch.exp(2 * l)) if faithful else (1 + l - mu ** 2 - torch.exp(l))
    return -0.5 * terms if per_dim else -0.5 * terms.sum(-1)


def kl_term(mu, l, faithful: bool, free_bits: float):
    """The batch's KL of one encoder; with ``free_bits`` > 0 each dimension's batch-mean KL counts
    as at least that many nats (Kingma et al. 2016), so a dimension costs nothing until it carries
    more than that."""
    per_dim = kl(mu, l, faithful, per_dim=True).mean(0)
    return per_dim.clamp_min(free_bits).sum() if free_bits > 0 else per_dim.sum()


def reconstruction(recon, target, likelihood: str):
    """The reconstruction term of one batch. ``bce``: S^2 x the mean binary cross-entropy (the Keras
    original's scale). ``gaussian``: the sigma-VAE's Gaussian likelihood with the variance set to its
    optimum, the batch's mean squared error (Rybkin et al. 2021): D/2 x log(MSE) per cell, D the
    pixels x channels, so the weight of the reconstruction against the KL follows how well it is
    already done instead of BCE's fixed curvature y(1 - y)."""
    if likelihood == "gaussian":
        d = recon[0].numel()
        return 0.5 * d * torch.log(F.mse_loss(recon, target, reduction="mean") + 1e-8)
    size = recon.shape[-1]
    return F.binary_cross_entropy(recon, target.clamp(0, 1), reduction="mean") * size ** 2


def sample(mu, l, epsilon_std: float = 1.0):
    """mu + sigma * eps with eps ~ N(0, epsilon_std^2) (Keras' ``epsilon_std``, 1 as published); both loss
    variants sample with l = log sigma^2."""
    if epsilon_std == 0:
        return mu
    return mu + torch.exp(l / 2) * torch.randn_like(mu) * epsilon_std


class MultiEncoderVAE(nn.Module):
    def __init__(self, channels: int, size: int, dim: int, encoders: int = 2, combine: str = "product",
                 loss: str = "faithful", beta: float = 1.0, free_bits: float = 0.0, warmup: float = 0.0,
                 background: str = "zero", likelihood: str = "bce"):
        super().__init__()
        self.encoders = nn.ModuleList(Encoder(channels, size, dim) for _ in range(encoders))
        self.decoder = Decoder(channels, size, dim * encoders if combine == "concat" else dim)
        self.combine_kind, self.faithful, self.size = combine, loss == "faithful", size
        self.beta, self.free_bits, self.warmup, self.background = beta, free_bits, warmup, background
        self.likelihood = likelihood
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # for the KL warm-up; checkpointed
        self.total_steps = 0

    def bg(self, images):
        return border_background(images) if self.background == "border" else None

    def ramp(self) -> float:
        """1, or during the warm-up the share of it done: the KL weight is beta * ramp and the sampling
        noise epsilon_std = ramp, so training starts as a deterministic autoencoder of the product."""
        if self.warmup <= 0 or self.total_steps <= 0 or not self.training:
            return 1.0
        return min(1.0, float(self.steps_done) / (self.warmup * self.total_steps))

    def combine(self, codes):
        if self.combine_kind == "product":
            return torch.stack(codes).prod(dim=0)
        if self.combine_kind == "mean":
            return torch.stack(codes).mean(dim=0)
        return torch.cat(codes, dim=-1)

    def views(self, target):
        return [*randomised_views(target, background=self.bg(target)), *[target] * (len(self.encoders) - 2)]

    def forward(self, target, stage: str = "fit"):
        stats = [enc(v) for enc, v in zip(self.encoders, self.views(target))]
        ramp = self.ramp()
        z = self.combine([sample(mu, l, ramp) for mu, l in stats])
        rec = reconstruction(self.decoder(z), target, self.likelihood)
        kls = torch.stack([kl_term(mu, l, self.faithful, self.free_bits) for mu, l in stats])
        return rec + self.beta * ramp * 0.5 * kls.sum()

    def export_inputs(self, crops):
        """What each encoder sees when features are exported: the crop as it is, the crop aligned
        (polarity untouched), the canonical crop for any further encoder."""
        bg = self.bg(crops)
        return [crops, align(crops, bg)] + [canonical(crops, background=bg)] * (len(self.encoders) - 2)

    @torch.no_grad()
    def features(self, crops, stochastic: bool = False):
        stats = [enc(v) for enc, v in zip(self.encoders, self.export_inputs(crops))]
        return self.combine([sample(mu, l) if stochastic else mu for mu, l in stats])


class VAE(nn.Module):
    def __init__(self, channels: int, size: int, dim: int, beta: float = 1.0, likelihood: str = "bce"):
        super().__init__()
        self.encoder, self.decoder = Encoder(channels, size, dim), Decoder(channels, size, dim)
        self.beta, self.size, self.likelihood = beta, size, likelihood

    def forward(self, x, stage: str = "fit"):
        mu, l = self.encoder(x)
        rec = reconstruction(self.decoder(sample(mu, l)), x, self.likelihood)
        return rec + self.beta * kl(mu, l, False).mean()

    @torch.no_grad()
    def features(self, crops, stochastic: bool = False):
        mu, l = self.encoder(crops)
        return sample(mu, l) if stochastic else mu


class ImageVAETask(Task):
    epochs = 30

    def __init__(self, name: str, model: nn.Module, data: torch.Tensor, crops: torch.Tensor, config: dict):
        self.name, self.model, self.data, self.crops, self.config = name, model, data, crops, config

    def stages(self) -> list[Stage]:
        return [Stage("fit", self.epochs, self.model.parameters)]

    def configure_scheduler(self, optimizer, stage: Stage, total_steps: int):
        self.model.total_steps = total_steps  # the KL warm-up's length is a share of these
        return None

    def after_step(self, stage: str) -> None:
        if hasattr(self.model, "steps_done"):
            self.model.steps_done += 1

    def default_batch_size(self, n_train: int) -> int:
        return min(64, n_train)

    @torch.no_grad()
    def outputs(self, data: torch.Tensor) -> dict[str, np.ndarray]:
        self.model.eval()
        device = next(self.model.parameters()).device
        stochastic = self.config.get("export") == "stochastic"
        parts = [self.model.features(chunk.to(device), stochastic).float().cpu() for chunk in self.crops.split(1024)]
        return {f"obsm/X_{self.name}": torch.cat(parts).numpy()}


def _prepare(data, dim: int, normalise: str) -> tuple[torch.Tensor, int]:
    X = torch.as_tensor(np.asarray(data, dtype=np.float32))
    if X.ndim != 4:
        raise InputError(f"this model needs images (cells x channels x height x width), got shape {tuple(X.shape)}")
    if dim < 1:
        raise InputError(f"--dim must be at least 1, got {dim}")
    size = max(8, int(math.ceil(max(X.shape[-2:]) / 8) * 8))
    if X.shape[-1] != size or X.shape[-2] != size:
        X = F.interpolate(X, size=(size, size), mode="bilinear", align_corners=False)
    # crop: each crop by its own maximum, as published; dataset: each channel by its maximum over all crops,
    # so a crop's total intensity (DNA content on jurkat_cellcycle) stays a feature
    top = X.amax(dim=(1, 2, 3) if normalise == "crop" else (0, 2, 3), keepdim=True)
    return (X / torch.where(top > 0, top, torch.ones_like(top))).contiguous(), size


# Settings with a fixed set of values (combine, loss, export, background, likelihood, normalise) are
# checked against settings.CHOICES by create_task before a factory runs.
@register("mevae", defaults=MODEL_DEFAULTS["mevae"],
          data_kind="image", description="ME-VAE: encoders on rotation- and polarity-randomised copies, product of codes")
def create_mevae(data, *, dim, encoders, combine, loss, export, beta, free_bits, warmup, background,
                 likelihood, normalise) -> ImageVAETask:
    if encoders < 2:
        raise InputError(f"--encoders must be at least 2, got {encoders}", "for one encoder train `vae`")
    if beta < 0:
        raise InputError(f"--beta must be 0 or more, got {beta:g}")
    if free_bits < 0:
        raise InputError(f"--free-bits must be 0 or more, got {free_bits:g}")
    if not 0 <= warmup <= 1:
        raise InputError(f"--warmup must be between 0 and 1 (a share of the training steps), got {warmup:g}")
    crops, size = _prepare(data, dim, normalise)
    model = MultiEncoderVAE(crops.shape[1], size, dim, encoders, combine, loss, beta, free_bits, warmup, background,
                            likelihood)
    targets = torch.cat([canonical(c, background=model.bg(c)) for c in crops.split(1024)])
    config = {"dim": dim, "encoders": encoders, "combine": combine, "loss": loss, "export": export, "beta": beta,
              "free_bits": free_bits, "warmup": warmup, "background": background, "likelihood": likelihood,
              "normalise": normalise, "size": size}
    return ImageVAETask("mevae", model, targets, crops, config)


@register("vae", defaults=MODEL_DEFAULTS["vae"], data_kind="image",
          description="VAE / beta-VAE baseline on ME-VAE's backbone, reconstructing the crop as it is")
def create_vae(data, *, dim, beta, export, likelihood, normalise) -> ImageVAETask:
    if beta < 0:
        raise InputError(f"--beta must be 0 or more, got {beta:g}")
    crops, size = _prepare(data, dim, normalise)
    model = VAE(crops.shape[1], size, dim, beta, likelihood)
    return ImageVAETask("vae", model, crops, crops, {"dim": dim, "beta": beta, "export": export,
                                                     "likelihood": likelihood, "normalise": normalise, "size": size})
