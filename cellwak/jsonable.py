"""One way to turn results into JSON: for ``--json`` answers, catalog rows and exported files.

Results carry NumPy scalars and arrays, pandas objects, paths and NaN (a metric that does not
exist). :func:`jsonable` turns them into plain Python, with NaN and infinities as ``None``, so
:func:`dumps` always writes strict JSON (RFC 8259), which parsers other than Python's accept.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import PurePath


def jsonable(value):
    """Plain Python (dict, list, str, int, float, bool, None) for ``value``, recursively;
    non-finite floats become None."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    module = type(value).__module__
    if module.startswith("numpy"):
        import numpy as np

        if isinstance(value, np.ndarray):
            return jsonable(value.tolist())
        if isinstance(value, np.generic):
            return jsonable(value.item())
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return jsonable(value.to_dict(orient="records"))
        if isinstance(value, (pd.Series, pd.Index, pd.Categorical)):
            return jsonable(list(value))
        if value is pd.NA or value is pd.NaT:
            return None
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict())
    return str(value)


def dumps(value, *, indent: int | None = None) -> str:
    """Strict JSON text of ``value`` (see :func:`jsonable`)."""
    return json.dumps(jsonable(value), indent=indent, allow_nan=False, ensure_ascii=False)
