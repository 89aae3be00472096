"""How much of a known nuisance factor (rotation angle, polarity, scale) features still carry:
|Pearson r| between each feature dimension and the nuisance value (extractors.md A.7, A.8 item 5)."""

from __future__ import annotations

import numpy as np


def nuisance_correlation(features, values) -> dict:
    """``{"mean_abs_r": ..., "max_abs_r": ...}`` over the feature dimensions (constant ones left out)."""
    F = np.asarray(features, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if F.ndim != 2 or len(F) != len(v):
        raise ValueError(f"features of shape {F.shape} do not match {len(v)} nuisance values")
    Fc = F - F.mean(axis=0)
    vc = v - v.mean()
    denom = np.sqrt((Fc ** 2).sum(axis=0) * (vc ** 2).sum())
    ok = denom > 0
    r = np.abs((Fc[:, ok] * vc[:, None]).sum(axis=0) / denom[ok])
    if r.size == 0:
        return {"mean_abs_r": 0.0, "max_abs_r": 0.0}
    return {"mean_abs_r": round(float(r.mean()), 4), "max_abs_r": round(float(r.max()), 4)}
