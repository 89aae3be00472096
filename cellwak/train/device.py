"""Where training runs, and in which precision."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from ..device import resolve_device


def torch_device(name: str, local_rank: int = 0) -> torch.device:
    """The device of this process: with several processes on CUDA, one GPU per local rank."""
    name = resolve_device(name)
    if name == "cuda":
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device(name)


def autocast(device: torch.device, amp: str):
    """bf16 autocast on CUDA (``amp`` auto or bf16); full precision on the CPU or with ``off``."""
    if device.type == "cuda" and amp in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def uses_amp(device: torch.device, amp: str) -> bool:
    return device.type == "cuda" and amp in ("auto", "bf16")
