"""Checkpoints: state dicts and plain values only, written atomically, loadable with
``torch.load(path, weights_only=True)``.

A checkpoint is a dict::

    format        1
    model         task.model.state_dict()
    optimizer     the current stage's optimizer.state_dict()
    scheduler     its scheduler's state_dict(), or None
    rng           torch / CUDA / NumPy / Python random states, as tensors and numbers
    position      {stage_index, stage, stage_done, epoch (completed in the stage), batch (steps
                  done in the epoch after it; > 0 only when a run was stopped mid-epoch), step}
    progress      early stopping (best, bad_epochs), the running epoch loss, last metrics per stage
    config        the training settings and data sizes it was written with

Files are named by the global step (``step-000000120.pt``) so the newest is the largest name.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path, sweep_temporaries

FORMAT = 1
NAME = re.compile(r"^step-(\d{9})\.pt$")


def rng_state() -> dict:
    """Every random state the loop and the models can draw from, in ``weights_only`` form."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "internal": torch.tensor(internal, dtype=torch.int64),
                   "gauss_next": gauss_next},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss_next"]))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def file_name(step: int) -> str:
    return f"step-{step:09d}.pt"


def save(folder: Path, state: dict, keep: int = 2) -> Path:
    """Write ``state`` as ``folder/step-N.pt`` (temporary file, fsync, rename), then remove all
    but the ``keep`` newest checkpoints."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / file_name(int(state["position"]["step"]))
    with atomic_path(final) as tmp:
        torch.save(state, tmp)
    for old in checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return final


def checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoint files, oldest first (temporary files of an interrupted write are not)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if NAME.match(p.name))


def latest(folder: Path) -> Path | None:
    found = checkpoints(folder)
    return found[-1] if found else None


def load(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a cellwak checkpoint of format {FORMAT}")
    return state


def remove_temporaries(folder: Path) -> None:
    folder = Path(folder)
    if folder.is_dir():
        sweep_temporaries(folder)
