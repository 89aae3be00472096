"""Label sets and F1 for (multi-)label classification: shared by the per-label classifiers
(:mod:`cellwak.tl.classify`) and the image classifier (:mod:`cellwak.models.cnn`)."""

from __future__ import annotations

import numpy as np


def label_sets(values, sep: str = ";") -> tuple[list[frozenset], list[str]]:
    """Parse ``a;b`` label strings (missing values: no label) into sets and the sorted names."""
    sets = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() in ("", "nan"):
            sets.append(frozenset())
        else:
            sets.append(frozenset(p.strip() for p in str(v).split(sep) if p.strip()))
    names = sorted(set().union(*sets)) if sets else []
    return sets, names


def binary_f1(truth: np.ndarray, pred: np.ndarray) -> float | None:
    """2TP / (2TP + FP + FN) of boolean arrays; None when undefined (no positives, none predicted)."""
    tp = int((truth & pred).sum())
    denom = 2 * tp + int((~truth & pred).sum()) + int((truth & ~pred).sum())
    return None if denom == 0 else 2 * tp / denom


def macro(values) -> float:
    """Mean of the defined (not None) values; 0 when none is defined."""
    return float(np.mean([v for v in values if v is not None] or [0.0]))


def held_out_f1(Y: np.ndarray, P: np.ndarray, seed: int = 0) -> dict:
    """Per-label F1 of predictions ``P`` against truth ``Y`` (cells x labels, bool) with the natural
    label distribution, and the Human Protein Atlas capstone's figure: each label's F1 on its
    positives plus as many negatives drawn at random (seeded), half positive by construction."""
    rng = np.random.default_rng(seed)
    natural, balanced = [], []
    for j in range(Y.shape[1]):
        natural.append(binary_f1(Y[:, j], P[:, j]))
        pos, neg = np.flatnonzero(Y[:, j]), np.flatnonzero(~Y[:, j])
        if len(pos) and len(neg):
            rows = np.concatenate([pos, rng.choice(neg, size=min(len(pos), len(neg)), replace=False)])
            balanced.append(binary_f1(Y[rows, j], P[rows, j]))
        else:
            balanced.append(None)
    return {"f1_macro": macro(natural), "f1_balanced": macro(balanced), "per_label": natural,
            "per_label_balanced": balanced}
