"""From a request (model, dataset, settings) to a checked, ready-to-train task.

Everything a run needs is checked here, before its catalog row exists: the model and its
settings, the dataset, the representation, the training settings against the data (batch size,
held-out cells, epochs, device). Nothing is written while checking: a built-in dataset that is
not in the workspace yet is checked in memory and registered only when the run is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..models import create_task, model_info
from ..provenance import seed_everything
from ..train.config import TrainConfig, make_config
from ..train.device import resolve_device
from ..train.loop import plan


@dataclass
class TrainRequest:
    model: str
    dataset: str
    model_config: dict = field(default_factory=dict)  # the model's own settings (registry defaults fill the rest)
    train: dict = field(default_factory=dict)  # TrainConfig values the user set (None: unset)
    rep: str | None = None  # obsm key or 'X' (scaled features); None: scaled features

    @classmethod
    def from_params(cls, model: str, dataset: str, params: dict) -> "TrainRequest":
        return cls(model, dataset, dict(params["model"]), dict(params["train"]), params.get("rep"))


@dataclass
class Prepared:
    request: TrainRequest
    task: object
    config: TrainConfig
    device: str
    batch_size: int
    n_test: int

    @property
    def params(self) -> dict:
        """What the run row stores: enough to rebuild exactly this task and config."""
        defaults = model_info(self.request.model).defaults
        return {"model": {**defaults, **self.request.model_config}, "train": self.config.to_dict(),
                "rep": self.request.rep, "batch_size": self.batch_size, "n_test": self.n_test}


def training_array(adata, rep: str | None, data_kind: str, model: str) -> np.ndarray:
    """The float32 array a model trains on: images (cells x C x H x W, each channel scaled by its
    maximum) for image models; for table models ``rep`` (an obsm key, or 'X') or, by default,
    the scaled features (image datasets flattened); for models of either kind (``any``) the
    images of an image dataset unless ``rep`` is given, else the table."""
    from ..pp.representation import is_image_dataset, representation, scaled_features

    if data_kind == "any":  # images where the dataset has them and no --rep asks otherwise, else a table
        data_kind = "image" if is_image_dataset(adata) and rep is None else "table"
    if data_kind == "image":
        if not is_image_dataset(adata):
            raise InputError(f"model {model!r} trains on images and this dataset is a table",
                             "add an image dataset (npz, TIFF/PNG folder, idx) or choose a table model")
        if rep is not None:
            raise InputError(f"model {model!r} trains on the images themselves; --rep does not apply")
        shape = np.asarray(adata.obsm["images"]).shape
        data = scaled_features(adata).reshape(shape)
    elif rep is not None:
        data, _ = representation(adata, rep)
    else:
        data = scaled_features(adata)
    data = np.ascontiguousarray(data, dtype=np.float32)
    if not np.isfinite(data).all():
        raise InputError("the training data contain NaN or infinite values", "clean the dataset or choose another --rep")
    return data


def dataset_for_check(ws, name: str):
    """The dataset as AnnData without changing the workspace (a built-in one is read from the
    package when it is not registered yet)."""
    from ..datasets import BUILTIN, load_builtin

    if any(row["name"] == name for row in ws.datasets()):
        return ws.load(name)
    if name in BUILTIN:
        return load_builtin(name)
    return ws.dataset(name, builtin_ok=False)  # raises the standard "no dataset" line


class CellMeta:
    """A dataset's per-cell metadata as models see it: arrays with None where a cell has no value."""

    def __init__(self, adata):
        self.adata = adata
        self.info = adata.uns.get("cellwak", {}).get("dataset", {})

    def labels(self):
        from ..io import labelled_mask

        values, mask = labelled_mask(self.adata)
        return None if values is None else np.where(mask, values, None)

    def batches(self):
        key = self.info.get("batch_key")
        if not key or key not in self.adata.obs:
            return None
        return self.column(key)

    def column(self, name: str):
        if name not in self.adata.obs:
            from ..errors import short_list

            raise InputError(f"no obs column {name!r} in this dataset",
                             f"choose one of {short_list(list(self.adata.obs.columns))}")
        col = self.adata.obs[name]
        return np.where(col.notna().to_numpy(), col.astype(str).to_numpy(), None)


def build_task(adata, model: str, model_config: dict, rep: str | None):
    """The model's task on this dataset: its training array and, for models that use them, the
    dataset's labels (None where a cell has none) or all its per-cell metadata."""
    entry = model_info(model)
    data = training_array(adata, rep, entry.data_kind, model)
    cells = CellMeta(adata)
    labels = cells.labels() if entry.uses_labels else None
    return create_task(model, data, labels=labels, cells=cells, **model_config)


def prepare(ws, request: TrainRequest, adata=None) -> Prepared:
    """Check ``request`` and build its task (seeded: the same request gives the same initial
    weights). Raises InputError/NotFoundError (one line, exit 2) for anything that cannot work."""
    model_info(request.model)  # an unknown model fails before anything else
    make_config(None, request.train)  # unknown training settings fail before any data is read
    resolve_device(request.train.get("device") or "auto")
    if adata is None:
        adata = dataset_for_check(ws, request.dataset)
    seed_everything(int(request.train.get("seed") or 0))
    task = build_task(adata, request.model, request.model_config, request.rep)
    config = make_config(task, request.train)
    fixed = plan(task, config)
    return Prepared(request, task, config, resolve_device(config.device), fixed.batch_size, fixed.n_test)
