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
from .request import build_task
from .store import RunStore


def _folder(ws, row: dict) -> Path:
    return Path(row["folder"]) if row.get("folder") else RunStore(ws).run_dir(row["id"])


def _done(row: dict) -> None:
    if row["status"] != "done":
        raise InputError(f"run {row['id']} is {row['status']}; it has outputs once it is done",
                         f"see `cellwak runs show {row['id']}`")


def _outputs_with_weights(ws, row: dict, dataset: str, adata) -> dict[str, np.ndarray]:
    """The run's model rebuilt with its settings on ``adata``, given its final weights; its outputs."""
    import torch

    task = build_task(adata, row["model"], row["params"]["model"], row["params"].get("rep"))
    state = torch.load(_folder(ws, row) / "model.pt", map_location="cpu", weights_only=True)
    try:
        task.model.load_state_dict(state)
    except RuntimeError:
        raise InputError(f"run {row['id']} was trained on data of another shape than dataset {dataset!r} "
                         f"(its cells have shape {tuple(task.data.shape[1:])})",
                         "embed a dataset with the same features, in the same order") from None
    return task.outputs(task.data)


def run_outputs(ws, run_id: int) -> dict[str, np.ndarray]:
    """``{"obsm/X_deepwak": array, "obs/deepwak_cluster": array, ...}`` of a done run."""
    row = show(ws, run_id)
    _done(row)
    saved = _folder(ws, row) / "outputs.npz"
    if saved.exists():
        with np.load(saved, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    return _outputs_with_weights(ws, row, row["dataset"], ws.load(row["dataset"]))


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
    from ..provenance import record
    from .execute import write_outputs

    row = show(ws, run_id)
    target = dataset or row["dataset"]
    if target == row["dataset"]:
        outputs = run_outputs(ws, run_id)
        adata = ws.load(target)
    else:
        _done(row)
        ws.dataset(target)
        adata = ws.load(target)
        outputs = _outputs_with_weights(ws, row, target, adata)
    rec = record(f"embed {row['model']}", {"run": int(run_id), "trained_on": row["dataset"]})
    rec["run"] = int(run_id)
    write_outputs(adata, outputs, rec, f"embed_{row['model']}")
    ws.save(target, adata)
    return {"run": int(run_id), "model": row["model"], "dataset": target, "outputs": sorted(outputs)}


def export_metrics(ws, run_id: int, out, *, force: bool = False) -> dict:
    """Write the run's metrics stream (every step's train loss, every epoch's train and test
    metrics) as CSV: run, scope, stage, epoch, step, name, value, time (Unix seconds)."""
    import csv

    from ..atomic import atomic_path
    from ..errors import ConflictError

    out = Path(out).expanduser()
    if out.suffix.lower() != ".csv":
        raise InputError(f"cannot export metrics to '{out.suffix or out.name}'", "use a file name ending in .csv")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist", "create it first or choose another --csv")
    if out.exists() and not force:
        raise ConflictError(f"{out} already exists", "pass --force to overwrite it")
    row = show(ws, run_id)
    metrics = RunStore(ws).metrics(row["id"])
    columns = ("run", "scope", "stage", "epoch", "step", "name", "value", "time")
    with atomic_path(out) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for m in metrics:
            writer.writerow([m[c] for c in columns])
    return {"run_id": int(row["id"]), "out": str(out), "rows": len(metrics)}
