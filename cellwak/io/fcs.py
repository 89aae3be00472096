"""Flow/mass cytometry FCS files (via flowio)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .options import COMMON_OPTIONS, ReadOptions
from .registry import Loaded, register_reader

_NOT_FLUORESCENCE = re.compile(r"^(FSC|SSC|Time|Event)", re.IGNORECASE)


def read_fcs(path: Path, arcsinh: float | None):
    """Events x channels. Feature names come from $PnS (the marker) when set, else $PnN."""
    import flowio

    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", "point to a complete FCS file")
    if arcsinh is not None and not arcsinh > 0:
        raise InputError(f"--arcsinh must be a positive cofactor, got {arcsinh}",
                         "typical values are 5 (mass cytometry) or 150 (flow cytometry)")
    try:
        fd = flowio.FlowData(str(path))
        data = fd.as_array(preprocess=True)
    except Exception as exc:  # flowio raises bare exceptions of many kinds for damaged files
        raise InputError(f"cannot read {path} as FCS ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})",
                         "the file is corrupt, truncated or not FCS 2.0/3.x") from None
    pnn, pns = [], []
    for i in range(1, fd.channel_count + 1):
        ch = fd.channels.get(i, fd.channels.get(str(i), {}))
        pnn.append(str(ch.get("pnn", f"ch{i}")).strip())
        pns.append(str(ch.get("pns", "") or "").strip())
    names = [s if s else n for s, n in zip(pns, pnn)]
    seen = {}
    for j, name in enumerate(names):  # two channels with one marker name: qualify by channel
        if names.count(name) > 1:
            names[j] = f"{name} ({pnn[j]})"
        seen[names[j]] = seen.get(names[j], 0) + 1
    var = pd.DataFrame({"channel": pnn, "marker": pns, "is_marker": [bool(s) for s in pns]},
                       index=pd.Index(names))
    X = np.asarray(data, dtype=np.float32)
    if arcsinh is not None:
        fluor = np.array([not _NOT_FLUORESCENCE.match(n) for n in pnn])
        X[:, fluor] = np.arcsinh(X[:, fluor] / np.float32(arcsinh))
        var["arcsinh_cofactor"] = np.where(fluor, float(arcsinh), np.nan)
    return X, var


_SCATTER = re.compile(r"^(FSC|SSC)", re.IGNORECASE)
_TIME = re.compile(r"^(Time|Event)", re.IGNORECASE)


def channel_roles(var: pd.DataFrame) -> list[str]:
    """Why each channel is or is not a feature by default: 'marker' (a stain named in $PnS),
    'scatter', 'time', or 'unstained' (a fluorescence channel without a stain). When no channel
    names a stain, every fluorescence channel counts as a marker."""
    stained = var["is_marker"].to_numpy()
    roles = []
    for channel, is_marker in zip(var["channel"], stained):
        if _TIME.match(channel):
            roles.append("time")
        elif _SCATTER.match(channel):
            roles.append("scatter")
        elif is_marker or not stained.any():
            roles.append("marker")
        else:
            roles.append("unstained")
    return roles


def choose_features(var: pd.DataFrame, opts: ReadOptions) -> tuple[np.ndarray, dict]:
    """(mask of the channels that become features, what was decided and why). Markers by
    default; --feature adds channels back, --meta/--exclude keeps channels out."""
    roles = channel_roles(var)
    names = [str(n) for n in var.index]
    lookup = {}
    for j, name in enumerate(names):  # a channel can be named by its marker or its $PnN
        lookup[name.lower()] = j
        lookup.setdefault(str(var["channel"].iloc[j]).lower(), j)
    add, drop = list(opts.features), list(opts.meta)
    unknown = [n for n in add + drop if n.lower() not in lookup]
    if unknown:
        raise InputError(f"no channel named {', '.join(map(repr, unknown[:5]))} in this FCS file",
                         f"its channels: {', '.join(names)}")
    keep = np.array([r == "marker" for r in roles])
    for n in add:
        keep[lookup[n.lower()]] = True
    for n in drop:
        keep[lookup[n.lower()]] = False
    if not keep.any():
        raise InputError("no channel is left as a feature", "name the channels to cluster on with --feature")
    decided = {"features": [n for n, k in zip(names, keep) if k],
               "metadata": {n: r for n, r, k in zip(names, roles, keep) if not k}}
    return keep, decided


def _read(path: Path, opts: ReadOptions) -> Loaded:
    import anndata as ad

    X, var = read_fcs(path, opts.arcsinh)
    keep, decided = choose_features(var, opts)
    var["role"] = channel_roles(var)
    obs = pd.DataFrame({name: X[:, j] for j, name in enumerate(var.index) if not keep[j]},
                       index=pd.RangeIndex(X.shape[0]).astype(str))
    adata = ad.AnnData(X=np.ascontiguousarray(X[:, keep]), var=var[keep].copy(), obs=obs)
    info = {"channels": decided}
    if opts.arcsinh:
        info["arcsinh_cofactor"] = float(opts.arcsinh)
    return Loaded(adata, info)


register_reader("fcs", kind="FCS files", suffixes=(".fcs",), read=_read,
                options=COMMON_OPTIONS | {"arcsinh", "features", "meta"},
                description="flow and mass cytometry events (FCS 2.0/3.x); the stained channels become features, "
                            "Time, scatter and unstained channels per-cell metadata")
