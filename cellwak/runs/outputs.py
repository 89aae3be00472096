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
from .request import TrainRequest, prepare, training_array
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


def embed(ws, run_id: int, dataset: str | None = None) -> dict:
    """Write a done run's outputs into ``dataset`` (default: the dataset it trained on). For
    another dataset the model is rebuilt with the run's settings on that dataset's data and given
    the run's final weights, so the data must have the same shape per cell. Returns what was
    written."""
    import torch

    from ..io import labelled_mask
    from ..models import create_task, model_info
    from ..provenance import record
    from .execute import write_outputs

    row = show(ws, run_id)
    target = dataset or row["dataset"]
    if target == row["dataset"]:
        outputs = run_outputs(ws, run_id)
        adata = ws.load(target)
    else:
        if row["status"] != "done":
            raise InputError(f"run {run_id} is {row['status']}; only a done run can embed data",
                             f"see `cellwak runs show {run_id}`")
        ws.dataset(target)
        adata = ws.load(target)
        entry = model_info(row["model"])
        data = training_array(adata, row["params"].get("rep"), entry.data_kind, row["model"])
        labels = None
        if entry.uses_labels:
            values, mask = labelled_mask(adata)
            labels = None if values is None else np.where(mask, values, None)
        task = create_task(row["model"], data, labels=labels, **row["params"]["model"])
        folder = Path(row["folder"]) if row.get("folder") else RunStore(ws).run_dir(run_id)
        state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
        try:
            task.model.load_state_dict(state)
        except RuntimeError:
            raise InputError(f"run {run_id} was trained on data of another shape than dataset {target!r} "
                             f"(its cells have shape {tuple(data.shape[1:])})",
                             "embed a dataset with the same features, in the same order") from None
        outputs = task.outputs(task.data)
    rec = record(f"embed {row['model']}", {"run": int(run_id), "trained_on": row["dataset"]})
    rec["run"] = int(run_id)
    write_outputs(adata, outputs, rec, f"embed_{row['model']}")
    ws.save(target, adata)
    return {"run": int(run_id), "model": row["model"], "dataset": target, "outputs": sorted(outputs)}

