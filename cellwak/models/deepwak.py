"""DeePWAK: deep partitioned weighted affinity kernels (shared methods/deepwak.md 1.5-1.10).

V2 head (the published model): encoder theta (m -> 58 -> 29 -> d, tanh), partitioner pi reading X
(mlp4x, softmax over c clusters), decoder phi (d -> 29 -> 58 -> m, tanh). On a minibatch:
E = theta(X), C = pi(X), W = WAK(C C^T), X_hat = phi(W E), loss MSE(X_hat, X).
Block: h heads on the same input, reconstructions pooled by their sum (screen/main.jl) or by a
linear layer over their concatenation (MSDeePWAK). Consensus partitioner and consensus encoder are
trained afterwards with the heads frozen (stages ``consensus_partitioner``, ``consensus_encoder``).
V1 (README model): a learned per-dimension gate w over the embedding, a distance kernel
S = 1/(dist + eps) times the partition kernel, loss log MSE + alpha H(w) - beta softmod(S, P, gamma).

Switches for the published behaviour: ``wak_norm='col'`` (column-normalised WAK, as published; 'row'
gives proper weighted averages) and the optimiser quirk (``optimizer='adam-reset'`` in the trainer:
Adam state rebuilt every step = sign-SGD with multiplicative decay) beside persistent AdamW.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from . import register
from .settings import DEFAULTS as MODEL_DEFAULTS
from ._deepwak_layers import (EPS, entropy_bits, halving_widths, mlp, pairwise_distance, partitioner, pwak,
                              softmod_v1, wak, xavier)
from ._deepwak_task import DeePWAKTask


class DeePWAKHead(nn.Module):
    def __init__(self, m: int, d: int = 14, c: int = 14, wak_norm: str = "col"):
        super().__init__()
        widths = halving_widths(m, d)
        self.encoder = mlp(widths, nn.Tanh, nn.Tanh)
        self.partitioner = partitioner(m, c)
        self.decoder = mlp(widths[::-1], nn.Tanh, nn.Tanh)
        self.wak_norm = wak_norm

    def kernel(self, C: torch.Tensor) -> torch.Tensor:
        return pwak(C, self.wak_norm)

    def forward(self, X: torch.Tensor, *, C: torch.Tensor | None = None, E: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction of X; a consensus partition C or embedding E replaces the head's own."""
        E = self.encoder(X) if E is None else E
        C = self.partitioner(X) if C is None else C
        return self.decoder(self.kernel(C) @ E)


class DeePWAKBlock(nn.Module):
    def __init__(self, m: int, heads: int = 5, d: int = 14, c: int = 14, pool: str = "sum", wak_norm: str = "col"):
        super().__init__()
        if pool not in ("sum", "linear"):
            raise InputError(f"unknown pooling {pool!r}", "choose sum or linear")
        self.heads = nn.ModuleList(DeePWAKHead(m, d, c, wak_norm) for _ in range(heads))
        self.pool_kind = pool
        self.pool = xavier(nn.Linear(heads * m, m)) if pool == "linear" else None

    def combine(self, reconstructions: list[torch.Tensor]) -> torch.Tensor:
        if self.pool is None:
            return torch.stack(reconstructions).sum(dim=0)
        return self.pool(torch.cat(reconstructions, dim=-1))

    def forward(self, X, *, C=None, E=None):
        return self.combine([h(X, C=C, E=E) for h in self.heads])


class ConsensusPartitioner(nn.Module):
    """The heads' soft partitions, concatenated (h c) -> mlp4x -> c, softmax."""

    def __init__(self, heads: int, c: int):
        super().__init__()
        self.net = partitioner(heads * c, c)

    def forward(self, soft: list[torch.Tensor]) -> torch.Tensor:
        return self.net(torch.cat(soft, dim=-1))


class ConsensusEncoder(nn.Module):
    """The heads' embeddings, concatenated (h d) -> h d / 2 -> d, tanh."""

    def __init__(self, heads: int, d: int):
        super().__init__()
        self.net = mlp([heads * d, (heads * d) // 2, d], nn.Tanh, nn.Tanh)

    def forward(self, embeddings: list[torch.Tensor]) -> torch.Tensor:
        return self.net(torch.cat(embeddings, dim=-1))


class DeePWAKV2(nn.Module):
    """Block + consensus modules; ``forward(batch, stage)`` is the training loss of that stage."""

    STAGES = ("block", "consensus_partitioner", "consensus_encoder")

    def __init__(self, m: int, heads: int = 5, d: int = 14, c: int = 14, pool: str = "sum", wak_norm: str = "col"):
        super().__init__()
        self.block = DeePWAKBlock(m, heads, d, c, pool, wak_norm)
        self.consensus_partitioner = ConsensusPartitioner(heads, c)
        self.consensus_encoder = ConsensusEncoder(heads, d)

    def _frozen(self, fn, *args):
        with torch.no_grad():
            return fn(*args)

    def kernel_inputs(self, X: torch.Tensor, stage: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per head, the soft partition C and the embedding E its kernel WAK(C C^T) smooths at ``stage``
        (the consensus partition, or embedding, replaces each head's own in the consensus stages)."""
        heads = self.block.heads
        if stage == "block":
            return [(h.partitioner(X), h.encoder(X)) for h in heads]
        if stage == "consensus_partitioner":
            C = self.consensus_partitioner([self._frozen(h.partitioner, X) for h in heads])
            return [(C, h.encoder(X)) for h in heads]
        if stage == "consensus_encoder":
            E = self.consensus_encoder([self._frozen(h.encoder, X) for h in heads])
            return [(h.partitioner(X), E) for h in heads]
        raise ValueError(f"unknown stage {stage!r}")

    def reconstruct(self, X: torch.Tensor, stage: str, apply_kernels=None) -> torch.Tensor:
        """Each head decodes its kernel-smoothed embedding WAK(C C^T) E; the block pools them.
        ``apply_kernels(pairs, norm)``: the smoothed embeddings of the (C, E) pairs computed elsewhere
        (evaluation in Julia); default torch."""
        heads = self.block.heads
        pairs = self.kernel_inputs(X, stage)
        if apply_kernels is None:
            smoothed = [h.kernel(C) @ E for h, (C, E) in zip(heads, pairs)]
        else:
            smoothed = apply_kernels(pairs, heads[0].wak_norm)
        return self.block.combine([h.decoder(Z) for h, Z in zip(heads, smoothed)])

    def forward(self, X: torch.Tensor, stage: str = "block") -> torch.Tensor:
        return torch.mean((self.reconstruct(X, stage) - X) ** 2)

    @torch.no_grad()
    def encode(self, X: torch.Tensor) -> dict[str, torch.Tensor]:
        heads = self.block.heads
        emb = [h.encoder(X) for h in heads]
        soft = [h.partitioner(X) for h in heads]
        return {"embeddings": emb, "soft": soft, "consensus_embedding": self.consensus_encoder(emb),
                "consensus_soft": self.consensus_partitioner(soft)}


class DeePWAKV1(nn.Module):
    """README model: gate w = softmax(a * e + b) over dimensions, E~ = w * E, kernel WAK(S * C C^T)
    with S = 1/(dist(E~) + eps), loss log(MSE + eps) + alpha H(w) - beta softmod(S, P, gamma)."""

    STAGES = ("block",)

    def __init__(self, m: int, d: int = 14, c: int = 14, alpha: float = 0.1, beta: float = 0.1, gamma: float = 1.0,
                 wak_norm: str = "col"):
        super().__init__()
        widths = halving_widths(m, d)
        self.encoder = mlp(widths, nn.Tanh, nn.Tanh)
        self.gate_scale = nn.Parameter(torch.ones(d))   # the OneToOne layer: weights 1, bias 0
        self.gate_bias = nn.Parameter(torch.zeros(d))
        self.partitioner = partitioner(d, c)
        self.decoder = mlp(widths[::-1], nn.Tanh, nn.Tanh)
        self.alpha, self.beta, self.gamma, self.wak_norm = alpha, beta, gamma, wak_norm

    def parts(self, X):
        E = self.encoder(X)
        w = torch.softmax(self.gate_scale * E + self.gate_bias, dim=-1)
        Ew = w * E
        S = 1.0 / (pairwise_distance(Ew) + EPS)
        C = self.partitioner(Ew)
        P = C @ C.T
        return E, w, Ew, S, C, P

    def forward(self, X: torch.Tensor, stage: str = "block") -> torch.Tensor:
        _, w, Ew, S, _, P = self.parts(X)
        X_hat = self.decoder(wak(S * P, self.wak_norm) @ Ew)
        mse = torch.mean((X_hat - X) ** 2)
        return torch.log(mse + EPS) + self.alpha * entropy_bits(w.T) - self.beta * softmod_v1(S, P, self.gamma)

    @torch.no_grad()
    def encode(self, X: torch.Tensor) -> dict[str, torch.Tensor]:
        _, w, Ew, _, C, _ = self.parts(X)
        return {"embeddings": [Ew], "soft": [C], "consensus_embedding": Ew, "consensus_soft": C, "gate": w}


MAX_PARTITIONER_PARAMETERS = 50_000_000  # the reference: 5 x 684,014; 5 heads on 784 pixels: 160 M (refused)


def partitioner_size(m: int, c: int, hidden_layers: int = 3) -> int:
    w = 4 * max(m, c)
    return m * w + w + hidden_layers * (w * w + w) + w * c + c


DEFAULTS = MODEL_DEFAULTS["deepwak"]


@register("deepwak", defaults=DEFAULTS, data_kind="table",
          description="DeePWAK: encoder, partitioner and decoder with a partitioned WAK kernel; block of heads + consensus")
def create(data, *, variant, heads, dim, clusters, pool, wak_norm, scaling, alpha, beta, gamma,
           eval_backend="python") -> DeePWAKTask:
    if variant not in ("v1", "v2"):
        raise InputError(f"unknown DeePWAK variant {variant!r}", "choose v1 or v2")
    if eval_backend == "julia" and variant != "v2":
        raise InputError("--eval-backend julia evaluates the partition kernel of DeePWAK v2 only",
                         "use --variant v2, or --eval-backend python")
    if heads < 1:
        raise InputError(f"--heads must be at least 1, got {heads}")
    if clusters < 2:
        raise InputError(f"--clusters must be at least 2, got {clusters}")
    if dim < 1:
        raise InputError(f"--dim must be at least 1, got {dim}")
    if pool not in ("sum", "linear"):
        raise InputError(f"unknown --pool {pool!r}", "choose sum or linear")
    if wak_norm not in ("col", "row"):
        raise InputError(f"unknown WAK normalisation {wak_norm!r}", "choose col or row")
    X, kept = prepare(np.asarray(data), scaling)
    m = X.shape[1]
    size = partitioner_size(m, clusters) * (heads if variant == "v2" else 1)
    if size > MAX_PARTITIONER_PARAMETERS:
        raise InputError(f"{m} features make DeePWAK's partitioners {size / 1e6:,.0f} million parameters "
                         f"(4 x {m} hidden units per layer)", "train on fewer dimensions, e.g. --rep X_pca")
    model = (DeePWAKV2(m, heads, dim, clusters, pool, wak_norm) if variant == "v2"
             else DeePWAKV1(m, dim, clusters, alpha, beta, gamma, wak_norm))
    config = {"variant": variant, "heads": heads if variant == "v2" else 1, "dim": dim, "clusters": clusters,
              "pool": pool, "wak_norm": wak_norm, "scaling": scaling,
              "features_kept": int(m), "features_dropped": int(len(kept) - kept.sum())}
    if variant == "v1":
        config.update(alpha=alpha, beta=beta, gamma=gamma)
    config["eval_backend"] = eval_backend
    if eval_backend == "julia":  # refused here, before the run is recorded, when Julia cannot run
        from ..backends.julia import require_julia

        config.update(require_julia("--eval-backend julia").describe())
    return DeePWAKTask(model, torch.as_tensor(X), config)


def prepare(X: np.ndarray, scaling: str) -> tuple[np.ndarray, np.ndarray]:
    """Drop all-constant features, then scale: ``sample`` divides each cell by its largest |value|
    (V2/V3, data in [-1, 1] to match the tanh decoder), ``feature`` each feature by its largest
    |value| (V0), ``none`` leaves the values."""
    if X.ndim != 2:
        raise InputError(f"DeePWAK needs a cells x features table, got shape {X.shape}",
                         "for images, train a feature extractor first and use its embedding with --rep")
    X = X.astype(np.float32)
    kept = X.max(axis=0) != X.min(axis=0)
    if not kept.any():
        raise InputError("every feature is constant", "DeePWAK has nothing to learn from this dataset")
    X = X[:, kept]
    if scaling == "sample":
        top = np.abs(X).max(axis=1, keepdims=True)
        X = X / np.where(top > 0, top, 1)
    elif scaling == "feature":
        top = np.abs(X).max(axis=0, keepdims=True)
        X = X / np.where(top > 0, top, 1)
    elif scaling != "none":
        raise InputError(f"unknown --scaling {scaling!r}", "choose sample, feature or none")
    return X.astype(np.float32), kept
