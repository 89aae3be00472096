"""A wheel built from the repository carries julia/ and r/ and works when installed
non-editable into a fresh virtual environment, the dashboard (cellwak_tui with its stylesheet)
included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # 8 s: builds a wheel and a fresh venv
def test_wheel_installs_and_runs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-w", str(dist), "-q"], check=True, cwd=tmp_path)
    wheel = next(dist.glob("cellwak-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("cellwak/_resources/julia/") for n in names)
    assert "cellwak/_resources/r/check_packages.R" in names
    assert "cellwak/datasets/_data/blood.npz" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True,
                   env={**os.environ, "PIP_NO_INDEX": "1"})
    # dependencies come from the development environment; its editable cellwak is not visible
    # because .pth files inside an added path are not processed
    site = Path(subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {**os.environ, "CELLWAK_HOME": str(tmp_path / "home")}
    exe = venv / "bin" / "cellwak"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert version.returncode == 0 and version.stdout.startswith("cellwak ")
    doctor = subprocess.run([str(exe), "doctor", "--json", "--no-julia"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=300)
    assert doctor.returncode == 0, doctor.stderr
    rep = json.loads(doctor.stdout)
    assert rep["cellwak"]["location"].startswith(str(site))
    for key in ("julia", "r"):
        assert rep["cellwak"]["resources"][key].startswith(str(site)), rep["cellwak"]["resources"]
    assert rep["tui"]["status"] == "ok" and rep["tui"]["location"].startswith(str(site)), rep["tui"]
    assert (Path(rep["tui"]["location"]) / "app.tcss").is_file()  # the stylesheet travels with the app
    tui = subprocess.run([str(exe), "tui", "--json"], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=300)
    assert tui.returncode == 0 and json.loads(tui.stdout)["graphics"]["protocol"], tui.stderr
