"""Option parsing shared by several commands."""

from __future__ import annotations

from ..errors import InputError


def resolve_device(device: str) -> str:
    import torch

    device = device.lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: CUDA is not available on this machine", "use --device cpu or auto")
        return device
    raise InputError(f"unknown --device {device!r}", "choose auto, cpu or cuda")
