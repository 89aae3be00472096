"""R through Rscript (always) and rpy2 (when installed). CRAN is not assumed: R packages come
from the system (Debian: r-cran-* / r-bioc-* packages)."""

from __future__ import annotations

import json
import shutil
import sys

from ..resources import r_script
from ._subprocess import last_line, run_quiet

R_PACKAGES = ("ggplot2", "ComplexHeatmap", "igraph", "uwot", "jsonlite", "ragg", "circlize", "data.table")
APT_PACKAGES = ("r-base-core", "r-base-dev", "r-cran-ggplot2", "r-bioc-complexheatmap", "r-cran-igraph",
                "r-cran-uwot", "r-cran-jsonlite", "r-cran-ragg", "r-cran-circlize", "r-cran-data.table")
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
