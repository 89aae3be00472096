"""``cnn``: an image classifier trained on a label column, whose penultimate layer becomes
``obsm['X_cnn']`` (the image side of the Human Protein Atlas capstone; shared/methods/
extractors.md B, which embedded with a fixed ImageNet EfficientNet-B0 and trained one balanced
classifier per location on top).

- One label per cell (no ``sep``): softmax cross-entropy over the classes. Several labels per
  cell (``sep``, e.g. ``;``): one sigmoid output per label, binary cross-entropy. Cells without a
  label are left out of training and of the metrics, but get features and predictions.
- ``balance`` (default on, "balanced per label" as the capstone): the loss weighs each class by
  n / (classes x its count) (single label), or each label's positives by its negatives / positives
  (multi-label), so rare classes count as much as common ones.
- Backbones (:mod:`cellwak.models._cnn_archs`): ``small`` (DINO's ConvNet, fast on a CPU; the
  ``auto`` choice for images), ``resnet18`` and ``efficientnet_b0`` with torchvision's layout,
  trained from scratch, and ``mlp`` for feature tables (the ``auto`` choice there, so the same
  command compares with ``cellwak classify`` on a table such as the embryo screen); ``weights``
  loads a local file (a torchvision state_dict, or a cellwak ``cnn`` run's ``model.pt``) with
  ``torch.load(weights_only=True)``; a head of another size is left at its initial values.
- Crops are standardised per channel over the dataset (table features per column); ``size`` resizes them (0: as they are for
  ``small``, at least 64 px for the torchvision layouts, whose stems divide the side by 32).
  ``augment`` applies one of the eight turns/flips to each crop at every step (cells have no
  orientation).

Held-out metrics (the loop's test cells, never trained on): ``f1_macro``, the mean over labels of
each label's F1 with the natural label distribution (the honest figure), and ``f1_balanced``,
the capstone's figure: each label's F1 on its held-out positives plus as many held-out negatives
drawn at random (seeded). Outputs: ``obsm['X_cnn']``, ``obs['cnn_predicted']`` (labels joined by
``sep``), ``obsm['cnn_proba']`` and ``uns['cnn']`` (label names, per-label held-out F1).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from ..metrics.multilabel import held_out_f1, label_sets
from ..train.task import Stage, Task
from . import register
from ._cnn_archs import build
from .dino import standardise_channels
from .transforms import dihedral
from .settings import DEFAULTS as MODEL_DEFAULTS


class Classifier(nn.Module):
    def __init__(self, images: torch.Tensor, targets: torch.Tensor, multi: bool, backbone: nn.Module,
                 weight: torch.Tensor | None, augment: bool):
        super().__init__()
        self.backbone = backbone
        self.register_buffer("images", images, persistent=False)
        self.register_buffer("targets", targets, persistent=False)
        self.register_buffer("weight", weight, persistent=False)  # None: no balancing
        self.multi, self.augment = multi, augment
        self._ddp_params_and_buffers_to_ignore = ["images", "targets", "weight"]

    def logits(self, index: torch.Tensor, augment: bool = False) -> torch.Tensor:
        x = self.images[index]
        return self.backbone(dihedral(x) if augment else x)

    def loss(self, logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        y = self.targets[index]
        if self.multi:
            return F.binary_cross_entropy_with_logits(logits.float(), y, pos_weight=self.weight)
        return F.cross_entropy(logits.float(), y, weight=self.weight)

    def forward(self, batch: torch.Tensor, stage: str = "fit") -> torch.Tensor:
        index = batch[:, 0].long()
        return self.loss(self.logits(index, augment=self.augment and self.training), index)

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities (softmax or per-label sigmoid)."""
        return torch.sigmoid(logits.float()) if self.multi else torch.softmax(logits.float(), dim=1)


class CNNTask(Task):
    name = "cnn"
    train_defaults = {"lr": 1e-3, "weight_decay": 1e-4}

    def __init__(self, model: Classifier, names: list[str], sep: str, labelled: np.ndarray, config: dict):
        self.model, self.names, self.sep, self.config = model, names, sep, config
        self.data = torch.as_tensor(labelled, dtype=torch.float32)[:, None]  # indices of labelled cells
        self._probs: list[torch.Tensor] = []
        self._rows: list[torch.Tensor] = []
        self.held_out: dict | None = None

    def stages(self) -> list[Stage]:
        return [Stage("fit", 20, self.model.backbone.parameters)]

    def default_batch_size(self, n_train: int) -> int:
        return min(128, n_train)

    def configure_scheduler(self, optimizer, stage, total_steps: int):
        """Cosine decay of the rate to 1% over the stage."""
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.01 + 0.99 * (1 + math.cos(math.pi * min(1.0, step / max(1, total_steps)))) / 2)

    @torch.no_grad()
    def evaluate(self, batch: torch.Tensor, stage: str) -> dict[str, float]:
        index = batch[:, 0].long()
        logits = self.model.logits(index)
        self._probs.append(self.model.predict(logits).cpu())
        self._rows.append(index.cpu())
        return {"loss": float(self.model.loss(logits, index))}

    def start_evaluation(self, stage: str) -> None:
        self._probs, self._rows = [], []

    def finish_evaluation(self, stage: str) -> dict[str, float]:
        if not self._rows:
            return {}
        rows = torch.cat(self._rows)
        scores = held_out_f1(self.truth(rows), self.decide(torch.cat(self._probs)))
        self.held_out = scores  # the last evaluation's per-label figures, for uns['cnn']
        return {"f1_macro": scores["f1_macro"], "f1_balanced": scores["f1_balanced"]}

    def truth(self, rows: torch.Tensor) -> np.ndarray:
        y = self.model.targets[rows.to(self.model.targets.device)].cpu()
        if self.model.multi:
            return y.numpy() > 0.5
        return F.one_hot(y, len(self.names)).numpy().astype(bool)

    def decide(self, probs: torch.Tensor) -> np.ndarray:
        if self.model.multi:
            return (probs >= 0.5).numpy()
        return F.one_hot(probs.argmax(1), probs.shape[1]).numpy().astype(bool)

    @torch.no_grad()
    def outputs(self, data: torch.Tensor) -> dict[str, np.ndarray]:
        self.model.eval()
        feats, probs = [], []
        for chunk in torch.arange(len(self.model.images), device=self.model.images.device).split(512):
            h = self.model.backbone.embed(self.model.images[chunk])
            feats.append(h.float().cpu())
            probs.append(self.model.predict(self.model.backbone.head()(h)).cpu())
        proba = torch.cat(probs)
        hits = self.decide(proba)
        predicted = np.array([self.sep.join(n for n, h in zip(self.names, row) if h) for row in hits], dtype=object)
        return {"obsm/X_cnn": torch.cat(feats).numpy(), "obsm/cnn_proba": proba.numpy(),
                "obs/cnn_predicted": predicted.astype(str),
                "uns/cnn": {"labels": np.asarray(self.names, dtype=object), "multi_label": bool(self.model.multi),
                            "arch": self.config["arch"], **self._per_label()}}

    def _per_label(self) -> dict:
        """Each label's held-out F1 (natural and balanced; NaN where undefined) at the last evaluation."""
        if not self.held_out:
            return {}
        as_array = lambda values: np.asarray([np.nan if v is None else v for v in values])  # noqa: E731
        return {"heldout_f1": as_array(self.held_out["per_label"]),
                "balanced_f1": as_array(self.held_out["per_label_balanced"]),
                "heldout_macro_f1": self.held_out["f1_macro"], "balanced_macro_f1": self.held_out["f1_balanced"]}


def targets_of(values, sep: str) -> tuple[np.ndarray, torch.Tensor, list[str], bool]:
    """(indices of labelled cells, targets, label names, multi-label?) from one value per cell."""
    multi = bool(sep)
    if multi:
        sets, names = label_sets(values, sep)
    else:
        sets = [frozenset() if v is None else frozenset([str(v)]) for v in values]
        names = sorted(set().union(*sets))
    # several labels per cell: an empty set is a cell with none of them (negative for every label, as
    # `cellwak classify` counts it); one label per cell: a missing value is an unlabelled cell
    labelled = np.arange(len(sets)) if multi else np.flatnonzero([len(s) > 0 for s in sets])
    if len(names) < 2:
        raise InputError(f"the label column holds {len(names)} distinct label(s); a classifier needs at least 2",
                         "choose another --label column" + ("" if multi else ", or give --sep for multi-label values"))
    if len(labelled) < 10:
        raise InputError(f"only {len(labelled)} cells carry a label; the classifier needs at least 10")
    pos = {n: j for j, n in enumerate(names)}
    if multi:
        Y = np.zeros((len(values), len(names)), dtype=np.float32)
        for i, s in enumerate(sets):
            Y[i, [pos[n] for n in s]] = 1.0
        return labelled, torch.as_tensor(Y), names, True
    y = np.zeros(len(values), dtype=np.int64)
    y[labelled] = [pos[next(iter(sets[i]))] for i in labelled]
    return labelled, torch.as_tensor(y), names, False


def balance_weights(targets: torch.Tensor, labelled: np.ndarray, classes: int, multi: bool) -> torch.Tensor:
    t = targets[torch.as_tensor(labelled)]
    if multi:
        pos = t.sum(0).clamp_min(1.0)
        return ((len(t) - t.sum(0)).clamp_min(1.0) / pos).float()
    counts = torch.bincount(t, minlength=classes).float().clamp_min(1.0)
    return len(t) / (classes * counts)


def weights_file(path: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"--weights {path}: no such file", "give the path of a local .pt/.pth state_dict")
    return file


def load_weights(backbone: nn.Module, path: str) -> str:
    """Load a local weights file into ``backbone`` (head left as is when its size differs; a first
    convolution of other channels averaged over them); returns the file's sha256."""
    file = weights_file(path)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
        raise InputError(f"--weights {path} cannot be read as PyTorch weights ({str(exc).splitlines()[0][:100]})",
                         "give a state_dict saved with torch.save (weights only)") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InputError(f"--weights {path} holds no state_dict of tensors", "save it with torch.save(model.state_dict())")
    state = {(k[len("backbone."):] if k.startswith("backbone.") else k): v for k, v in state.items()}
    own = backbone.state_dict()
    head = {name for name, p in backbone.named_parameters() if any(p is q for q in backbone.head().parameters())}
    loaded = {}
    for k, v in state.items():
        if k not in own:
            raise InputError(f"--weights {path} does not fit --arch {backbone.__class__.__name__}: it has {k!r}",
                             "choose the --arch the file was trained with")
        if v.shape != own[k].shape:
            if k in head:
                continue  # another number of classes: the head starts fresh
            if v.ndim == 4 and v.shape[0] == own[k].shape[0] and v.shape[2:] == own[k].shape[2:]:
                v = v.mean(1, keepdim=True).expand_as(own[k]) * (v.shape[1] / own[k].shape[1])
            else:
                raise InputError(f"--weights {path}: {k} has shape {tuple(v.shape)}, the model {tuple(own[k].shape)}",
                                 "choose the --arch the file was trained with")
        loaded[k] = v
    missing = [k for k in own if k not in loaded and k not in head and not k.endswith("num_batches_tracked")]
    if missing:
        raise InputError(f"--weights {path} lacks {len(missing)} of the model's tensors (first: {missing[0]})",
                         "choose the --arch the file was trained with")
    backbone.load_state_dict(loaded, strict=False)
    return hashlib.sha256(file.read_bytes()).hexdigest()


def _check(s: dict) -> None:
    if s["size"] < 0 or 0 < s["size"] < 16:
        raise InputError(f"--size must be 0 (automatic) or at least 16 pixels, got {s['size']}")
    if s["width"] < 1:
        raise InputError(f"--width must be at least 1, got {s['width']}")
    if s["weights"]:
        weights_file(s["weights"])  # refused before any data is read


DEFAULTS = MODEL_DEFAULTS["cnn"]


@register("cnn", defaults=DEFAULTS, data_kind="any", uses_cells=True,
          description="classifier on a label column: images (small ConvNet, ResNet-18, EfficientNet-B0) or a "
                      "table (MLP); writes obsm['X_cnn'] and the predicted labels")
def create(data, *, cells, **settings) -> CNNTask:
    s = dict(settings)
    _check(s)
    X = torch.as_tensor(np.asarray(data, dtype=np.float32))
    table = X.ndim == 2
    if X.ndim not in (2, 4):
        raise InputError(f"the cnn model needs images (cells x channels x height x width) or a table, got shape "
                         f"{tuple(X.shape)}")
    arch = s["arch"] if s["arch"] != "auto" else ("mlp" if table else "small")
    if table != (arch == "mlp"):
        raise InputError(f"--arch {arch} is for {'images' if table else 'tables'} and this training data is "
                         f"{'a table' if table else 'images'}", "use --arch auto (mlp for tables, small for images)")
    values = cells.column(s["label"]) if s["label"] else cells.labels()
    if values is None:
        raise InputError("this dataset has no label column for the classifier to learn",
                         "name an obs column with --label COLUMN, or add the dataset with --label")
    labelled, targets, names, multi = targets_of(values, s["sep"])
    if table:
        side = 0
        X = (X - X.mean(0)) / X.std(0).clamp_min(1e-6)
    else:
        side = s["size"] or (max(64, X.shape[-1]) if arch != "small" else X.shape[-1])
        if (X.shape[-2], X.shape[-1]) != (side, side):
            X = F.interpolate(X, size=(side, side), mode="bilinear", align_corners=False, antialias=X.shape[-1] > side)
        X = standardise_channels(X, np.zeros(len(X), dtype=np.int64))
    backbone = build(arch, X.shape[1], len(names), s["width"])
    weights_sha = load_weights(backbone, s["weights"]) if s["weights"] else ""
    weight = balance_weights(targets, labelled, len(names), multi) if s["balance"] else None
    model = Classifier(X.contiguous(), targets, multi, backbone, weight, s["augment"] and not table)
    config = {**s, "arch": arch, "size": int(side), "labels": names, "multi_label": multi, "labelled_cells": int(len(labelled)),
              "features": int(backbone.dim), "weights_sha256": weights_sha}
    return CNNTask(model, names, s["sep"] or ";", labelled, config)
