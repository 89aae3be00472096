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


def _read(path: Path, opts: ReadOptions) -> Loaded:
    import anndata as ad

    X, var = read_fcs(path, opts.arcsinh)
    adata = ad.AnnData(X=X, var=var, obs=pd.DataFrame(index=pd.RangeIndex(X.shape[0]).astype(str)))
    return Loaded(adata, {"arcsinh_cofactor": float(opts.arcsinh)} if opts.arcsinh else {})


register_reader("fcs", kind="FCS files", suffixes=(".fcs",), read=_read, options=COMMON_OPTIONS | {"arcsinh"},
                description="flow and mass cytometry events (FCS 2.0/3.x); channels become features")
