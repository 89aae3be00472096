"""``ae``: a small MLP autoencoder (features -> m/2 -> d -> m/2 -> features, MSE).

The simplest real model of the project: it exercises the training loop, runs and the CLI end
to end, and gives a learned embedding ``obsm['X_ae']`` to cluster on. The encoder's output
passes through the activation (tanh by default, as DeePWAK's encoders), the decoder's last layer
is linear because the scaled features are unbounded (standardised tables).
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

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class AutoEncoder(nn.Module):
    def __init__(self, n_features: int, latent: int = 8, hidden: int = 0, activation: str = "tanh"):
        super().__init__()
        hidden = hidden or max(latent, n_features // 2)
        act = ACTIVATIONS[activation]
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), act(), nn.Linear(hidden, latent), act())
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), act(), nn.Linear(hidden, n_features))

    def forward(self, batch: torch.Tensor, stage: str = "fit") -> torch.Tensor:
        """The training loss of a minibatch: mean squared reconstruction error."""
        return F.mse_loss(self.decoder(self.encoder(batch)), batch)


class AutoEncoderTask(Task):
    name = "ae"
    epochs = 50

    def __init__(self, data, latent: int, hidden: int, activation: str):
        self.data = torch.as_tensor(np.asarray(data, dtype=np.float32))
        if self.data.ndim != 2:
            raise InputError(f"the ae model needs cells x features, got shape {tuple(self.data.shape)}")
        self.config = {"latent": latent, "hidden": hidden, "activation": activation}
        self.model = AutoEncoder(self.data.shape[1], latent, hidden, activation)

    def stages(self) -> list[Stage]:
        return [Stage("fit", self.epochs, self.model.parameters)]

    @torch.no_grad()
    def outputs(self, data: torch.Tensor) -> dict[str, np.ndarray]:
        device = next(self.model.parameters()).device
        parts = [self.model.encoder(chunk.to(device)).float().cpu() for chunk in data.split(65536)]
        return {"obsm/X_ae": torch.cat(parts).numpy()}


@register("ae", defaults=MODEL_DEFAULTS["ae"], data_kind="table",
          description="MLP autoencoder (features -> m/2 -> latent), MSE; writes obsm['X_ae']")
def autoencoder(data, *, latent: int, hidden: int, activation: str) -> AutoEncoderTask:
    if activation not in ACTIVATIONS:
        raise InputError(f"unknown --activation {activation!r}", f"choose {' or '.join(ACTIVATIONS)}")
    if latent < 1:
        raise InputError(f"--latent must be at least 1, got {latent}")
    if hidden < 0:
        raise InputError(f"--hidden must be 0 (automatic) or more, got {hidden}")
    return AutoEncoderTask(data, int(latent), int(hidden), activation)
