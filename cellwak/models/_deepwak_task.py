"""DeePWAK as a training task for cellwak's training loop."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..graph.leiden import relabel_by_size
from ..train.task import Stage, Task

OUTPUT_CHUNK = 8192


def reference_test_size(n: int) -> int:
    """The reference's held-out size 2^round(log2(n) - log2(10)): 256 for 1,831 embryos."""
    return int(2 ** round(math.log2(n) - math.log2(10)))


class DeePWAKTask(Task):
    name = "deepwak"
    epochs = 1000  # per stage, as MSDeePWAK (block, then each consensus module); --epochs overrides
    train_defaults = {"lr": 1e-3, "weight_decay": 1e-3}  # the reference's AdamW(1e-3) + WeightDecay(1e-3)

    def __init__(self, model, data: torch.Tensor, config: dict):
        self.model = model
        self.data = data
        self.config = config

    def stages(self) -> list[Stage]:
        if self.config["variant"] == "v1":
            return [Stage("block", self.epochs, self.model.parameters)]
        return [Stage("block", self.epochs, self.model.block.parameters),
                Stage("consensus_partitioner", self.epochs, self.model.consensus_partitioner.parameters),
                Stage("consensus_encoder", self.epochs, self.model.consensus_encoder.parameters)]

    def default_test_size(self, n: int) -> int:
        return max(1, min(reference_test_size(n), n // 2))

    def default_batch_size(self, n_train: int) -> int:
        """The reference trains with batches as large as the test set (256 for the screen); the
        kernel is batch x batch, so at most 1,024."""
        return max(2, min(self.default_test_size(self.data.shape[0]), 1024, n_train))

    @torch.no_grad()
    def evaluate(self, batch: torch.Tensor, stage: str) -> dict[str, float]:
        """The held-out loss MSE(X_hat, X) (noise2self: the kernel's zero diagonal keeps each cell
        out of its own estimate). ``eval_backend='julia'``: the kernels WAK(C C^T) E of all heads in
        one CellWAK.jl request (``pwak_apply``), encoders and decoders in torch; training never
        goes through here."""
        if self.config.get("eval_backend", "python") != "julia":
            return {"loss": float(self.model(batch, stage))}
        X_hat = self.model.reconstruct(batch, stage, apply_kernels=julia_kernels)
        return {"loss": float(torch.mean((X_hat - batch) ** 2))}

    @torch.no_grad()
    def outputs(self, data: torch.Tensor) -> dict[str, np.ndarray]:
        """Consensus embedding, consensus soft partition and clusters, and each head's clusters.

        Encoders and partitioners read one cell at a time, so the full data go through in chunks."""
        self.model.eval()
        parts: dict[str, list] = {}
        for start in range(0, data.shape[0], OUTPUT_CHUNK):
            enc = self.model.encode(data[start:start + OUTPUT_CHUNK])
            for key in ("consensus_embedding", "consensus_soft"):
                parts.setdefault(key, []).append(enc[key].float().cpu().numpy())
            for i, (e, c) in enumerate(zip(enc["embeddings"], enc["soft"])):
                parts.setdefault(f"emb{i}", []).append(e.float().cpu().numpy())
                parts.setdefault(f"soft{i}", []).append(c.float().cpu().numpy())
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        heads = sum(1 for k in cat if k.startswith("emb"))
        out = {
            "obsm/X_deepwak": cat["consensus_embedding"],
            "obsm/deepwak_soft": cat["consensus_soft"],
            "obs/deepwak_cluster": relabel_by_size(cat["consensus_soft"].argmax(axis=1)),
            "obsm/X_deepwak_heads": np.concatenate([cat[f"emb{i}"] for i in range(heads)], axis=1),
        }
        for i in range(heads):
            out[f"obs/deepwak_head{i + 1}"] = relabel_by_size(cat[f"soft{i}"].argmax(axis=1))
        return out


def julia_kernels(pairs, norm: str) -> list[torch.Tensor]:
    """WAK(C C^T) E of each (C, E) pair in one Julia request, back as tensors like E."""
    from ..backends.julia import shared_kernels

    arrays = [(C.detach().double().cpu().numpy(), E.detach().double().cpu().numpy()) for C, E in pairs]
    out = shared_kernels().pwak_apply_many(arrays, norm=norm)
    return [torch.as_tensor(Z).to(device=E.device, dtype=E.dtype) for Z, (_, E) in zip(out, pairs)]
