"""Device names from the command line: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

import torch

from .errors import InputError
from .provenance import default_device


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is usable, else ``cpu``; ``cuda`` without one is
    refused with one line."""
    name = str(name).lower()
    if name == "auto":
        return default_device()
    if name == "cpu":
        return "cpu"
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: CUDA is not available on this machine", "use --device cpu or auto")
        return name
    raise InputError(f"unknown --device {name!r}", "choose auto, cpu or cuda")
