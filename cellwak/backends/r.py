"""R through Rscript (always) and rpy2 (when installed). CRAN is not assumed: R packages come
from the system (Debian: r-cran-* / r-bioc-* packages).

Figures (:func:`render`): the R functions of ``r/plot_*.R`` are called through rpy2 with the data
handed over as R objects (data frames, arrays, a named list of options), converted under local
conversion contexts (rpy2's global conversion is never activated), never pasted into R source.
R's console output is kept off the caller's stdout; an R error becomes one line
(:class:`RFigureError`). R runs in this process (the main thread only: R is not thread-safe) or in
a child Python process (other threads, e.g. the dashboard's workers; ``CELLWAK_R_MODE=child``
forces it), see :func:`render`."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..atomic import TMP_MARK
from ..errors import CellwakError
from ..resources import r_script
from ._subprocess import last_line, run_quiet

R_PACKAGES = ("ggplot2", "ComplexHeatmap", "igraph", "uwot", "jsonlite", "ragg", "circlize", "data.table", "svglite",
              "ggrepel")
APT_PACKAGES = ("r-base-core", "r-base-dev", "r-cran-ggplot2", "r-bioc-complexheatmap", "r-cran-igraph",
                "r-cran-uwot", "r-cran-jsonlite", "r-cran-ragg", "r-cran-circlize", "r-cran-data.table",
                "r-cran-svglite", "r-cran-ggrepel")
APT_COMMAND = "sudo apt-get install -y --no-install-recommends " + " ".join(APT_PACKAGES)


def rscript() -> str | None:
    return shutil.which("Rscript")


def status(check_rpy2: bool = True) -> dict:
    exe = rscript()
    if exe is None:
        return {"status": "missing", "detail": f"R is not installed; install it with: {APT_COMMAND}"}
    code, out, err = run_quiet([exe, "--version"], timeout=30)
    version = last_line(out or err)
    code, out, err = run_quiet([exe, "--vanilla", str(r_script("check_packages.R")), *R_PACKAGES], timeout=60)
    try:
        packages = json.loads(out) if code == 0 else {}
    except json.JSONDecodeError:
        packages = {}
    missing = [p for p in R_PACKAGES if not packages.get(p)]
    result = {"status": "ok" if not missing else "partial", "rscript": exe, "version": version,
              "packages": packages}
    if missing:
        result["detail"] = f"missing R packages: {', '.join(missing)}; install with: {APT_COMMAND}"
    if check_rpy2:
        result["rpy2"] = rpy2_status()
    return result


def rpy2_status() -> dict:
    """rpy2 is imported in a child process: embedding R must not disturb the caller."""
    code, out, err = run_quiet([sys.executable, "-c", "import rpy2, rpy2.robjects as ro; "
                                "print(rpy2.__version__, ro.r('R.version.string')[0])"], timeout=90)
    if code == 0:
        return {"status": "ok", "version": out.split()[0], "embedded_r": " ".join(out.split()[1:])}
    line = last_line(err)
    if "No module named" in line:
        return {"status": "missing", "detail": "rpy2 is not installed; pip install 'cellwak[r]' (rpy2==3.5.17 for R 4.2)"}
    return {"status": "error", "detail": f"rpy2 does not import: {line}"}


# -- figures ------------------------------------------------------------------------------------

FIGURES = {  # kind -> (file in r/, R function); the function takes its tables, then a list of options
    "embedding": ("plot_embedding.R", "plot_embedding"),
    "heatmap": ("plot_heatmap.R", "plot_heatmap"),
    "enrichment": ("plot_enrichment.R", "plot_enrichment"),
    "string": ("plot_network.R", "plot_network"),
    "sweep": ("plot_sweep.R", "plot_sweep"),
    "loss": ("plot_loss.R", "plot_loss"),
    "composition": ("plot_composition.R", "plot_composition"),
    "montage": ("plot_montage.R", "plot_montage"),
}
FIGURE_PACKAGES = ("ggplot2", "ComplexHeatmap", "circlize", "igraph", "ragg", "svglite", "ggrepel", "data.table",
                   "scales", "viridisLite")
FORMATS = ("png", "pdf", "svg")
INSTALL_HINT = f"install R's packages with `{APT_COMMAND}` and rpy2 with `pip install 'cellwak[r]'`"
MODES = ("auto", "inprocess", "child")
_LOCK = threading.Lock()
_SOURCED: set[str] = set()


class RFigureError(CellwakError):
    """R could not draw a figure: R, rpy2 or an R package is missing, or R stopped with an error."""


def figure_available() -> str | None:
    """None when figures can be drawn here, else why not (one line with the fix). Cheap: no R start."""
    if rscript() is None:
        return "R is not installed"
    if importlib.util.find_spec("rpy2") is None:
        return "rpy2 is not installed"
    return None


def render(kind: str, args: list, options: dict, out, *, mode: str = "auto") -> dict:
    """Draw figure ``kind`` into ``out`` (.png, .pdf or .svg, written atomically): the R function
    of :data:`FIGURES` gets ``args`` (pandas DataFrames -> data.frame, NumPy arrays -> arrays) and
    ``options`` (a named list; width/height in inches, dpi). ``mode``: 'inprocess' (embedded R,
    main thread only), 'child' (a fresh Python + R process), 'auto' (``$CELLWAK_R_MODE``, else
    in-process on the main thread and a child elsewhere). Returns {'mode', 'seconds'}."""
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if kind not in FIGURES:
        raise ValueError(f"unknown figure {kind!r}")
    if fmt not in FORMATS:
        raise RFigureError(f"cannot write a figure to {out.name!r}", "use a file name ending in .png, .pdf or .svg")
    why = figure_available()
    if why is not None:
        raise RFigureError(f"{why}; figures are drawn by R", INSTALL_HINT)
    mode = _resolve_mode(mode)
    t0 = time.perf_counter()
    tmp = out.with_name(f".{out.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}{out.suffix}")
    try:
        (_render_here if mode == "inprocess" else _render_in_child)(kind, args, {**options, "out": str(tmp)})
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RFigureError(f"R wrote no {fmt.upper()} file for the {kind} figure", "run `cellwak doctor`")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"mode": mode, "seconds": round(time.perf_counter() - t0, 3)}


def _resolve_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "auto":
        mode = os.environ.get("CELLWAK_R_MODE", "auto")
    if mode not in ("inprocess", "child"):
        mode = "inprocess" if threading.current_thread() is threading.main_thread() else "child"
    if mode == "inprocess" and threading.current_thread() is not threading.main_thread():
        mode = "child"  # embedded R checks its C stack against the main thread's: never call it elsewhere
    return mode


@contextmanager
def _quiet_console(collected: list):
    """R's console output (printed output, messages, warnings) into ``collected``, not stdout."""
    from rpy2.rinterface_lib import callbacks

    saved = callbacks.consolewrite_print, callbacks.consolewrite_warnerror
    callbacks.consolewrite_print = callbacks.consolewrite_warnerror = collected.append
    try:
        yield
    finally:
        callbacks.consolewrite_print, callbacks.consolewrite_warnerror = saved


def _converter():
    import rpy2.robjects as ro
    from rpy2.robjects import numpy2ri, pandas2ri

    return ro.default_converter + numpy2ri.converter + pandas2ri.converter


def _r_options(options: dict):
    """A named R list of scalars (None left out), built from R vectors, never from R text."""
    import rpy2.robjects as ro

    items = {}
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, bool):
            items[key] = ro.BoolVector([value])
        elif isinstance(value, (int, float)):
            items[key] = ro.FloatVector([float(value)])
        else:
            items[key] = ro.StrVector([str(value)])
    return ro.ListVector(items)


def _render_here(kind: str, args: list, options: dict) -> None:
    filename, function = FIGURES[kind]
    console: list = []
    with _LOCK, _quiet_console(console):
        try:
            import rpy2.robjects as ro
        except Exception as exc:  # noqa: BLE001 - rpy2 fails in many ways when R is broken
            raise RFigureError(f"rpy2 does not start R: {' '.join(str(exc).split())[:200]}", INSTALL_HINT) from None
        for name in ("plot_common.R", filename):
            if name not in _SOURCED:
                if name == "plot_common.R":
                    missing = _missing_packages(ro)
                    if missing:
                        raise RFigureError(f"R packages missing for figures: {', '.join(missing)}", INSTALL_HINT)
                ro.r["source"](ro.StrVector([str(r_script(name))]))
                _SOURCED.add(name)
        from rpy2 import rinterface as ri

        with _converter().context() as conversion:  # a local context: rpy2's global conversion is never set
            converted = [_to_r(a, conversion) for a in args]
        r_args = ri.baseenv["list"](*converted, _r_options(options))  # rinterface: no conversion back
        message = ri.globalenv.find("cellwak_call")(ri.StrSexpVector([function]), r_args)[0]
    if message:
        raise RFigureError(f"R could not draw the {kind} figure: {message}"[:500], "check the inputs; `cellwak doctor` checks R")


NA_INTEGER = -(2 ** 31)   # R's NA_integer_


def _to_r(value, conversion):
    """A DataFrame as an R data.frame and a NumPy array as an R array, built column by column
    from memory (rpy2's pandas conversion goes element by element: 12 s for a million rows);
    anything else through ``conversion``."""
    import numpy as np
    import pandas as pd
    from rpy2 import rinterface as ri

    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        data = np.asfortranarray(value, dtype=np.float64)
        vector = ri.FloatSexpVector.from_memoryview(memoryview(data.ravel(order="F")))
        if value.ndim > 1:
            vector.do_slot_assign("dim", ri.IntSexpVector(list(value.shape)))
        return vector
    if not isinstance(value, pd.DataFrame):
        return conversion.py2rpy(value)
    columns = []
    for name in value.columns:
        column = value[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(np.int32)
            vector = ri.IntSexpVector.from_memoryview(memoryview(np.where(codes < 0, NA_INTEGER, codes + 1)
                                                                 .astype(np.int32)))
            vector.do_slot_assign("levels", ri.StrSexpVector([str(c) for c in column.cat.categories]))
            vector.do_slot_assign("class", ri.StrSexpVector(["factor"]))
        elif pd.api.types.is_bool_dtype(column):
            vector = ri.BoolSexpVector(column.tolist())
        elif pd.api.types.is_numeric_dtype(column):
            vector = ri.FloatSexpVector.from_memoryview(memoryview(np.ascontiguousarray(column.to_numpy(np.float64))))
        else:
            vector = ri.StrSexpVector([ri.NA_Character if pd.isna(v) else str(v) for v in column.tolist()])
        columns.append(vector)
    frame = ri.ListSexpVector(columns)
    frame.do_slot_assign("names", ri.StrSexpVector([str(c) for c in value.columns]))
    return ri.baseenv["list2DF"](frame, len(value))


def _missing_packages(ro) -> list[str]:
    check = ro.r("function(p) p[!vapply(p, requireNamespace, logical(1), quietly = TRUE)]")
    return list(check(ro.StrVector(FIGURE_PACKAGES)))


def _render_in_child(kind: str, args: list, options: dict) -> None:
    """A fresh Python process draws the figure in-process (``python -m cellwak.backends.r_child``):
    the inputs travel in a pickle written here and read once there."""
    with tempfile.TemporaryDirectory(prefix="cellwak-r-") as folder:
        request = Path(folder) / "request.pkl"
        with open(request, "wb") as fh:
            pickle.dump({"kind": kind, "args": args, "options": options}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        code, out, err = run_quiet([sys.executable, "-m", "cellwak.backends.r_child", str(request)], timeout=900)
    try:
        answer = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except json.JSONDecodeError:
        answer = {}
    if code == 0 and answer.get("ok"):
        return
    if answer.get("error"):
        raise RFigureError(answer["error"], answer.get("fix"))
    raise RFigureError(f"the R process stopped: {last_line(err) or f'exit status {code}'}", "run `cellwak doctor`")
