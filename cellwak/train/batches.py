"""The held-out split and the minibatch order, both pure functions of the seed.

The order of an epoch depends only on (seed, stage, epoch), never on a random state carried
from earlier epochs, so a run resumed from a checkpoint draws exactly the batches the
uninterrupted run would have drawn, and every DDP process knows every other's batches.
"""

from __future__ import annotations

import numpy as np
import torch


def generator(*key: int) -> torch.Generator:
    """A torch generator seeded from a tuple of integers (stable across runs and machines)."""
    seed = int(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in key]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)


def split(n: int, n_test: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, test indices): a seeded random ``n_test`` cells are held out."""
    order = torch.randperm(n, generator=generator(seed, 0xC311))
    test = order[:n_test].sort().values
    train = order[n_test:].sort().values
    return train, test


def epoch_batches(n_train: int, batch_size: int, seed: int, stage: int, epoch: int, rank: int = 0,
                  world: int = 1) -> list[torch.Tensor]:
    """Positions (into the training cells) of each step's batch for this process.

    One process: a seeded permutation cut into batches of ``batch_size``; the last, partial
    batch is kept. ``world`` processes: each step takes ``world * batch_size`` cells of the
    permutation and process ``rank`` gets its slice (PyTorch's convention: the batch size is per
    process); a last partial chunk is split evenly and its remainder (< world cells) dropped, so
    every process runs the same number of steps.
    """
    order = torch.randperm(n_train, generator=generator(seed, stage, epoch))
    if world == 1:
        return list(order.split(batch_size))
    chunk = batch_size * world
    out = []
    for start in range(0, n_train, chunk):
        block = order[start:start + chunk]
        per = len(block) // world
        if per == 0:
            break
        out.append(block[rank * per:(rank + 1) * per])
    return out


def steps_per_epoch(n_train: int, batch_size: int, world: int = 1) -> int:
    if world == 1:
        return -(-n_train // batch_size)
    full, rest = divmod(n_train, batch_size * world)
    return full + (1 if rest >= world else 0)
