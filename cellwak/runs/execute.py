"""Running a recorded run: the body of the worker process (and of a foreground run).

``execute`` claims the queued run (status running, pid, host, provenance), rebuilds its task
from the stored parameters, resumes from the newest checkpoint in ``<home>/runs/<id>/checkpoints``
if there is one, trains through :func:`cellwak.train.fit` with the catalog and log recorders,
and at the end writes the task's outputs into the dataset, the final weights to
``<home>/runs/<id>/model.pt`` and the result into the run's row. Under torchrun every process
trains; only rank 0 touches the catalog, the log and the files.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import CellwakError, ConflictError
from ..provenance import record
from ..store.catalog import now
from ..train import checkpoint as ckpt
from ..train import ddp
from ..train.loop import Diverged, fit
from ..train.recorder import Fanout
from .recorder import CatalogRecorder, LogRecorder
from .request import TrainRequest, prepare
from .store import RunStore, hostname, process_identity


class RunFailed(CellwakError):
    """A recorded run ended as failed (the row says why); exit status 1."""

    exit_code = 1


def execute(ws, run_id: int, *, stop: threading.Event | None = None, prepared=None, recorders=()) -> dict | None:
    """Train run ``run_id`` (status queued) to its end; returns its final row (None on the
    processes of rank > 0 under torchrun, which record nothing)."""
    world = ddp.from_env()
    store = RunStore(ws)
    row = store.get(run_id, refresh=False)
    attempt, folder = row["attempt"], store.run_dir(run_id)
    stop = stop if stop is not None else threading.Event()
    if world.main:
        _claim(store, row)
    log = LogRecorder(folder / "log.txt") if world.main else None
    catalog = CatalogRecorder(ws, run_id, attempt, stop) if world.main else None
    final: dict = {}
    try:
        if log:
            log.line(f"run {run_id} attempt {attempt}: {row['model']} on {row['dataset']} (pid {os.getpid()})")
        if prepared is None:
            request = TrainRequest.from_params(row["model"], row["dataset"], row["params"])
            prepared = prepare(ws, request, adata=ws.load(row["dataset"]))
        config = prepared.config
        if config.threads is None and row["threads"]:
            config.threads = int(row["threads"])  # a resumed run keeps its thread count (bit-exact results)
        resume_from = ckpt.latest(folder / "checkpoints")
        if resume_from is not None and world.main:
            store.drop_metrics_after(run_id, int(ckpt.NAME.match(resume_from.name).group(1)))
        result = fit(prepared.task, config, Fanout(catalog, log, *recorders) if world.main else None,
                     checkpoint_dir=folder / "checkpoints", resume_from=resume_from, stop=stop)
        summary = {"steps": result.step, "stages": result.stages, "seconds": result.seconds,
                   "steps_per_second": result.steps_per_second, **result.info}
        if result.status == "cancelled":
            final = {"status": "cancelled", "result": summary, "error": "cancelled; resume with "
                     f"`cellwak runs resume {run_id}`"}
        elif world.main:
            summary.update(_finish(ws, store, row, prepared, folder))
            final = {"status": "done", "result": summary}
    except Diverged as exc:
        final = {"status": "failed", "error": str(exc)}
        raise RunFailed(f"run {run_id} failed: {exc}") from exc
    except KeyboardInterrupt:
        final = {"status": "cancelled", "error": "interrupted; resume from the last checkpoint with "
                 f"`cellwak runs resume {run_id}`"}
        raise
    except BaseException as exc:
        final = {"status": "failed", "error": str(exc) if isinstance(exc, CellwakError)
                 else f"internal error ({type(exc).__name__}: {str(exc)[:300]})"}
        raise
    finally:
        if catalog:
            catalog.close()
        if world.main and final:
            log.line(f"run {run_id} {final['status']}" + (f": {final['error']}" if final.get("error") else ""))
            store.update(run_id, {**final, "ended": now()}, attempt=attempt, statuses=("running",))
        if log:
            log.close()
    return store.get(run_id, refresh=False) if world.main else None


def _claim(store: RunStore, row: dict) -> None:
    pid, started = process_identity()
    values = {"status": "running", "pid": pid, "pid_started": started, "host": hostname(), "heartbeat": time.time(),
              "error": None, "ended": None}
    if row["started"] is None:
        values["started"] = now()
    if not store.update(row["id"], values, attempt=row["attempt"], statuses=("queued",)):
        current = store.get(row["id"], refresh=False)
        raise ConflictError(f"run {row['id']} is {current['status']}, not queued",
                            f"see `cellwak runs show {row['id']}`")


def _finish(ws, store: RunStore, row: dict, prepared, folder: Path) -> dict:
    """Final weights, the task's outputs written into the dataset; returns what was written."""
    import torch

    task = prepared.task
    task.model.eval()
    weights = folder / "model.pt"
    with atomic_path(weights) as tmp:
        torch.save(task.model.state_dict(), tmp)
    outputs = task.outputs(task.data)
    if outputs:  # a copy in the run's folder, so later runs on the dataset do not hide this one's
        with atomic_path(folder / "outputs.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{k: np.asarray(v) for k, v in outputs.items() if not k.startswith("uns/")})
        params = {k: v for k, v in row["params"].items()}
        rec = record(f"train {row['model']}", params, seed=row["seed"], device=row["device"])
        rec["run"] = int(row["id"])
        with ws.dataset_lock(row["dataset"]):
            adata = ws.load(row["dataset"])
            write_outputs(adata, outputs, rec, f"train_{row['model']}")
            ws.save(row["dataset"], adata)
    return {"weights": str(weights), "outputs": sorted(outputs),
            "outputs_file": str(folder / "outputs.npz") if outputs else None}


def write_outputs(adata, outputs: dict, provenance: dict, key: str) -> None:
    """Put a task's outputs (``obsm/X_ae``, ``obs/col``, ``uns/key``, ``varm/key``, ``layers/key``)
    into ``adata`` and its provenance into ``uns['cellwak'][key]``."""
    for name, value in outputs.items():
        where, _, k = name.partition("/")
        if where == "uns":
            adata.uns[k] = value
            continue
        arr = np.asarray(value)
        expected = adata.n_vars if where == "varm" else adata.n_obs
        if not k or where not in ("obsm", "obs", "varm", "layers") or arr.shape[0] != expected:
            raise ValueError(f"output {name!r} of shape {arr.shape} does not fit a dataset of {adata.n_obs} cells")
        if where == "obs":
            adata.obs[k] = arr
        else:
            getattr(adata, where)[k] = arr
    adata.uns.setdefault("cellwak", {})[key] = _without_none(provenance)


def _without_none(value):
    """h5ad cannot store None: drop it from nested dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value if v is not None]
    return value
