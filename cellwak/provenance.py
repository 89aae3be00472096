"""What produced a result: versions, threads, device, seed.

Every step that writes results records this dict (``uns['cellwak']`` and the catalog), because
"why did my clusters change?" is the question users ask most.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import random
import sys
import time

_PACKAGES = ("cellwak", "numpy", "scipy", "pandas", "anndata", "torch", "scikit-learn",
             "igraph", "leidenalg", "pyarrow")


def package_versions(packages=_PACKAGES) -> dict[str, str]:
    out = {}
    for name in packages:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def default_device() -> str:
    """``cuda`` when a CUDA device is usable, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def environment(device: str | None = None) -> dict:
    import torch

    device = device or default_device()
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["device_name"] = torch.cuda.get_device_name(0)
    return env


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def record(step: str, params: dict, *, seed: int | None = None, device: str | None = None,
           seconds: float | None = None) -> dict:
    """A provenance record for one step."""
    rec = {"step": step, "params": storable(dict(params)), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           **environment(device)}
    if seed is not None:
        rec["seed"] = int(seed)
    if seconds is not None:
        rec["seconds"] = round(float(seconds), 3)
    rec["argv"] = " ".join(sys.argv[1:])[:500]
    return rec


def storable(value):
    """The record as .h5ad can hold it in ``uns``: nested dicts stay, a list holding dicts (the
    kNN probe's tries) becomes its JSON text (anndata writes lists only as arrays of one type)."""
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and any(isinstance(v, dict) for v in value):
        import json

        return json.dumps(value)
    return value
