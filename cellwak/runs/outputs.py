"""What a finished run produced: its outputs (embeddings, clusters) and its loss curves.

A run writes its outputs into its dataset and keeps a copy in ``<home>/runs/<id>/outputs.npz``, so
a later run on the same dataset does not hide an earlier one. For a run without that file, the
outputs are computed again from its final weights (``model.pt``, read with ``weights_only``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .control import show
from .request import TrainRequest, prepare
from .store import RunStore


def run_outputs(ws, run_id: int) -> dict[str, np.ndarray]:
    """``{"obsm/X_deepwak": array, "obs/deepwak_cluster": array, ...}`` of a done run."""
    import torch

    row = show(ws, run_id)
    if row["status"] != "done":
        raise InputError(f"run {run_id} is {row['status']}; it has outputs once it is done",
                         f"see `cellwak runs show {run_id}`")
    folder = Path(row["folder"]) if row.get("folder") else RunStore(ws).run_dir(run_id)
    saved = folder / "outputs.npz"
    if saved.exists():
        with np.load(saved, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    request = TrainRequest.from_params(row["model"], row["dataset"], row["params"])
    prepared = prepare(ws, request)
    state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    prepared.task.model.load_state_dict(state)
    return prepared.task.outputs(prepared.task.data)


def loss_curves(ws, run_id: int, scope: str = "epoch") -> dict[str, dict[str, list[float]]]:
    """``{stage: {metric name: values in step order}}`` from the catalog."""
    curves: dict[str, dict[str, list[float]]] = {}
    for m in RunStore(ws).metrics(run_id, scope=scope):
        curves.setdefault(m["stage"], {}).setdefault(m["name"], []).append(float(m["value"]))
    return curves
