"""The command line as a user meets it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellwak import __version__


def test_version_and_global_flags_anywhere(cli):
    assert cli("--version").out.strip() == f"cellwak {__version__}"
    assert cli("data", "list", "--json").json()["datasets"] == []
    assert cli("--json", "data", "list").json()["datasets"] == []


def _listed_commands(help_text: str) -> set[str]:
    """Names in the Commands panel of a rich help page."""
    import re

    panel = help_text.split("Commands", 1)[1]
    return {m.group(1) for m in (re.match(r"│ (\S+)\s", line) for line in panel.splitlines()) if m}


def test_no_arguments_prints_help(cli):
    from cellwak.cli.app import app

    r = cli()
    assert r.code == 0 and r.out.lstrip().startswith("Usage: cellwak")
    registered = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert _listed_commands(r.out) == registered


def test_data_add_show_export_rm(cli, home, table_csv, tmp_path):
    r = cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type", "--batch", "plate", "--json")
    assert r.code == 0, r.err
    added = r.json()
    assert added["cells"] == 90 and added["features"] == 5
    assert added["label_counts"] == {"a": 30, "b": 30, "c": 30}
    assert added["batch_counts"] == {"p0": 45, "p1": 45}
    listed = cli("data", "list", "--json").json()
    assert [d["name"] for d in listed["datasets"]] == ["cells"]
    assert cli("cluster", "-d", "cells", "-k", "10", "--json").json()["metrics"]["ari"] == 1.0

    out = tmp_path / "cells_out.csv"
    assert cli("data", "export", "cells", "--out", out).code == 0
    frame = pd.read_csv(out, index_col=0)
    assert frame.shape[0] == 90 and {"type", "plate", "cellwak_leiden", "m0"} <= set(frame.columns)
    assert cli("data", "export", "cells", "--out", out).code == 2  # exists, no --force
    assert cli("data", "export", "cells", "--out", out, "--force").code == 0
    h5 = tmp_path / "cells.h5ad"
    assert cli("data", "export", "cells", "--out", h5).code == 0
    import anndata as ad

    back = ad.read_h5ad(h5)
    assert back.shape == (90, 5) and "cellwak_connectivities" in back.obsp

    assert cli("data", "rm", "cells").code == 0
    assert cli("data", "list", "--json").json()["datasets"] == []
    assert not (home / "datasets" / "cells").exists()


def test_data_add_default_name_is_the_file_stem(cli, table_csv):
    assert cli("data", "add", table_csv, "--json").json()["name"] == "cells"


def test_export_of_an_image_dataset_writes_pixels(cli, tmp_path):
    out = tmp_path / "blood.h5ad"
    assert cli("data", "export", "blood", "--out", out).code == 0
    import anndata as ad

    a = ad.read_h5ad(out)
    assert a.X.shape == (2400, 2352) and a.obsm["images"].shape == (2400, 3, 28, 28)
    assert np.array_equal(a.X[:3], a.obsm["images"][:3].reshape(3, -1))


@pytest.mark.slow  # 4-7 s: the default run keeps its 3-minute budget (measured 169-177 s in CI)
def test_doctor_reports_components(cli):
    import shutil
    import subprocess

    import torch

    r = cli("doctor", "--json", "--no-julia")
    assert r.code == 0, r.err
    rep = r.json()
    assert rep["ok"] and rep["torch"]["threads"] == torch.get_num_threads()
    assert all(rep["cellwak"]["resources"].values()), rep["cellwak"]["resources"]
    assert rep["julia"]["status"] == "skipped"
    rscript = shutil.which("Rscript")
    if rscript is None:  # the report must say so and how to install it
        assert rep["r"]["status"] == "missing" and "apt-get install" in rep["r"]["detail"]
        return
    from cellwak.backends.r import R_PACKAGES

    expr = "a <- commandArgs(TRUE); a <- a[a != '--args']; cat(sapply(a, requireNamespace, quietly = TRUE))"
    probe = subprocess.run([rscript, "--vanilla", "-e", expr, "--args", *R_PACKAGES], capture_output=True, text=True,
                           timeout=120)
    present = dict(zip(R_PACKAGES, probe.stdout.split()))
    assert {k: bool(v) for k, v in rep["r"]["packages"].items()} == {k: v == "TRUE" for k, v in present.items()}
    assert rep["r"]["status"] == ("ok" if all(v == "TRUE" for v in present.values()) else "partial")


def test_doctor_does_not_count_an_empty_dashboard_package(cli):
    import importlib.util

    rep = cli("doctor", "--json", "--no-julia", "--no-r").json()
    built = importlib.util.find_spec("cellwak_tui.app") is not None
    assert rep["tui"]["status"] == ("ok" if built else "missing")
    assert "tui" not in rep["cellwak"]["resources"]


def test_doctor_human_output_keeps_install_hints_whole(cli, monkeypatch):
    from cellwak.backends import julia

    monkeypatch.setattr(julia, "status", lambda: {"status": "missing", "detail": "juliacall is not installed; "
                                                  "pip install 'cellwak[julia]' (needs Julia >= 1.10)"})
    r = cli("doctor", "--no-r")
    assert "pip install 'cellwak[julia]'" in " ".join(r.out.split())
