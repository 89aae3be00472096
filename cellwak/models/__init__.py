"""The model registry: every trainable method is registered by name with its default config.

    from cellwak.models import create_task, list_models, model_info
    task = create_task("deepwak", data, heads=5, clusters=14)

A registered factory takes the data (a float32 array/tensor, cells first) and keyword config
and returns a :class:`cellwak.train.task.Task`. ``data_kind`` says which datasets fit ("table":
cells x features; "image": cells x C x H x W; "any": images of an image dataset, else the table),
so a wrong kind is refused with one clear line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from ..errors import InputError
from .settings import choices

# modules that register models when imported
_MODULES = ("cellwak.models.autoencoder", "cellwak.models.cnn", "cellwak.models.deepwak", "cellwak.models.dino",
            "cellwak.models.mevae", "cellwak.models.vime")


@dataclass
class ModelEntry:
    name: str
    factory: Callable
    defaults: dict = field(default_factory=dict)
    data_kind: str = "table"
    description: str = ""
    uses_labels: bool = False  # the factory also takes labels= (None where a cell has no label)
    uses_cells: bool = False  # the factory also takes cells= (per-cell metadata: labels(), batches(), column(name))


_REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, *, defaults: dict, data_kind: str = "table", description: str = "", uses_labels: bool = False,
             uses_cells: bool = False):
    def wrap(factory):
        _REGISTRY[name] = ModelEntry(name, factory, dict(defaults), data_kind, description, uses_labels, uses_cells)
        return factory

    return wrap


def _load_all():
    for module in _MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real import error inside the module
                raise


def model_defaults(name: str) -> dict:
    """Default settings of ``name`` without importing the model (no torch): for the faces."""
    from .settings import DEFAULTS

    if name not in DEFAULTS:
        raise InputError(f"unknown model {name!r}", f"choose one of {', '.join(sorted(DEFAULTS))}")
    return dict(DEFAULTS[name])


def list_models() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelEntry:
    _load_all()
    if name not in _REGISTRY:
        raise InputError(f"unknown model {name!r}", f"choose one of {', '.join(sorted(_REGISTRY)) or '(none)'}")
    return _REGISTRY[name]


def create_task(name: str, data, labels=None, cells=None, **config):
    """A ready-to-train Task: the registered defaults overridden by ``config``. ``labels`` (one
    per cell, None where unlabelled) reach only models registered with ``uses_labels``; ``cells``
    (an object with ``labels()``, ``batches()`` and ``column(name)``, each an array or None)
    only models registered with ``uses_cells``."""
    entry = model_info(name)
    unknown = sorted(set(config) - set(entry.defaults))
    if unknown:
        raise InputError(f"model {name!r} has no setting {unknown[0]!r}", f"its settings: {', '.join(sorted(entry.defaults))}")
    settings = {**entry.defaults, **config}
    for key, allowed in choices(name).items():
        if settings[key] not in allowed:
            flag = "--" + key.replace("_", "-")
            raise InputError(f"unknown {flag} {settings[key]!r} for model {name!r}", f"choose one of {', '.join(map(str, allowed))}")
    if entry.uses_cells:
        return entry.factory(data, cells=cells if cells is not None else NoCells(), **settings)
    if entry.uses_labels:
        return entry.factory(data, labels=labels, **settings)
    return entry.factory(data, **settings)


class NoCells:
    """Per-cell metadata of data that has none."""

    def labels(self):
        return None

    def batches(self):
        return None

    def column(self, name: str):
        raise InputError(f"no obs column {name!r}: these data carry no per-cell metadata")
