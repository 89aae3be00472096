"""`cellwak plot` / `cw.api.plot` / `cw.pl`: the fast checks. Refusals (one line, exit 2, workspace
unchanged) with and without R, the summaries handed to R, the sweep as recorded in the catalog,
and one real figure through the CLI. Every figure type in every format: tests/test_plot_figures.py (slow)."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import snapshot

HAVE_R = shutil.which("Rscript") is not None and importlib.util.find_spec("rpy2") is not None


def _one_line_refusal(r, *words):
    assert r.code == 2, (r.code, r.err[-400:])
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cellwak: error:"), r.err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture
def clustered(cli, populated, home):
    """The 'cells' table dataset clustered once and its snapshot."""
    r = cli("cluster", "-d", "cells", "--gamma", "1")
    assert r.code == 0, r.err
    return snapshot(home)


@pytest.mark.parametrize("kind", ["embedding", "heatmap", "enrichment", "string", "sweep", "loss", "composition",
                                  "montage"])
def test_without_r_every_plot_exits_2_with_the_install_hint(cli, populated, home, tmp_path, monkeypatch, kind):
    from cellwak.backends import r

    monkeypatch.setattr(r, "rscript", lambda: None)
    line = _one_line_refusal(cli("plot", kind, "-d", "cells", "--out", tmp_path / "f.png"), "R is not installed",
                             "apt-get install", "r-cran-ggplot2", "cellwak[r]")
    assert "r-bioc-complexheatmap" in line
    assert snapshot(home) == populated and not (tmp_path / "f.png").exists()


def test_without_rpy2_the_answer_names_pip(cli, populated, tmp_path, monkeypatch):
    from cellwak.backends import r

    real = importlib.util.find_spec
    monkeypatch.setattr(r.importlib.util, "find_spec", lambda name, *a: None if name == "rpy2" else real(name, *a))
    _one_line_refusal(cli("plot", "heatmap", "-d", "cells", "--out", tmp_path / "f.png"), "rpy2 is not installed")


@pytest.mark.parametrize("args,words", [
    (["embedding", "--out", "{tmp}/f.gif"], ["cannot write a figure to 'f.gif'", ".png, .pdf or .svg"]),
    (["embedding", "--out", "{tmp}/nowhere/f.png"], ["does not exist"]),
    (["embedding"], ["no output file given", "--out"]),
    (["heatmap", "--out", "{tmp}/f.png", "--color-by", "type"], ["--color-by does not apply to the heatmap"]),
    (["embedding", "--out", "{tmp}/f.png", "--run", "1"], ["--run does not apply"]),
    (["loss", "--out", "{tmp}/f.png", "--clustering", "1"], ["--clustering does not apply to the loss"]),
    (["embedding", "--out", "{tmp}/f.png", "--dpi", "0"], ["--dpi must be above 0"]),
    (["embedding", "--out", "{tmp}/f.png", "-d", "nosuch"], ["nosuch"]),
])
def test_bad_options_are_refused_before_anything_runs(cli, populated, home, tmp_path, args, words):
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in args]
    _one_line_refusal(cli("plot", *args), *words)
    assert snapshot(home) == populated


def test_an_unknown_kind_is_refused_by_the_parser(cli, populated, tmp_path):
    r = cli("plot", "violin", "--out", tmp_path / "f.png")
    assert r.code == 2 and "violin" in r.err


MISSING = [
    (["embedding", "--clustering", "999"], ["no clustering #999"]),
    (["embedding", "--color-by", "nosuchcolumn"], ["nothing named 'nosuchcolumn'", "type"]),
    (["composition", "--color-by", "nosuch"], ["no obs column 'nosuch'"]),
    (["string"], ["no interaction pairs", "cellwak string"]),
    (["loss"], ["has no training run", "cellwak train"]),
    (["loss", "--run", "7"], ["no run #7"]),
    (["montage"], ["no images", "image datasets"]),
]


@pytest.mark.r
@pytest.mark.skipif(not HAVE_R, reason="R (Rscript) and rpy2 are not installed: the R check answers first")
def test_missing_things_are_one_line_and_change_nothing(cli, clustered, home, tmp_path):
    for args, words in MISSING:
        _one_line_refusal(cli("plot", *args, "-d", "cells", "--out", tmp_path / "f.png"), *words)
    assert snapshot(home) == clustered and not list(tmp_path.glob("*f.png*"))


def test_sweep_without_a_sweep_names_the_command(cli, populated, home, tmp_path):
    assert cli("cluster", "-d", "cells", "--gamma", "1").code == 0
    before = snapshot(home)
    if not HAVE_R:
        pytest.skip("R (Rscript) and rpy2 are not installed")
    _one_line_refusal(cli("plot", "sweep", "-d", "cells", "--out", tmp_path / "s.png"), "no recorded sweep",
                      "cellwak sweep")
    assert snapshot(home) == before


# -- what R receives ------------------------------------------------------------------------------

def test_heatmap_table_holds_per_cluster_means_sizes_and_shares():
    import anndata as ad

    from cellwak.pl._tables import heatmap_table

    X = np.array([[1.0, 10], [3, 10], [5, 0], [7, 0], [9, 0]])
    a = ad.AnnData(X, var=pd.DataFrame(index=["m0", "m1"]))
    groups = np.array(["1", "0", "1", "1", "0"])
    labels = np.array(["T", "B", "T", "B", "B"])
    table, info = heatmap_table(a, groups, labels=labels, label_mask=np.array([True, True, True, False, True]),
                                batches=np.array(["p1", "p1", "p2", "p2", "p2"]))
    assert list(table["cluster"]) == ["0", "1"] and list(table["n_cells"]) == [2, 3]
    assert table["m0"].tolist() == [6.0, 13 / 3] and table["m1"].tolist() == [5.0, 10 / 3]
    assert table["label__T"].tolist() == [0.0, 2 / 3] and table["label__B"].tolist() == [1.0, 0.0]
    assert table["label__unlabelled"].tolist() == [0.0, 1 / 3]      # cell 3 has no label: a share of its own
    assert table["label"].tolist() == ["B (100%)", "T (67%)"]
    assert table["batch__p2"].tolist() == [0.5, 2 / 3]
    medians, _ = heatmap_table(a, groups, statistic="median")
    assert medians["m0"].tolist() == [6.0, 5.0]
    assert info["features_shown"] == ["m0", "m1"]


def test_heatmap_keeps_the_50_features_that_differ_most_between_clusters():
    import anndata as ad

    from cellwak.pl._tables import heatmap_table

    rng = np.random.default_rng(0)
    groups = np.repeat(["0", "1"], 100)
    X = rng.normal(0, 1, (200, 80))
    X[:100, 7] += 5  # the one feature that separates the clusters
    _, info = heatmap_table(ad.AnnData(X), groups)
    assert len(info["features_shown"]) == 50 and info["n_features"] == 80 and "7" in info["features_shown"]


def test_typical_cells_are_the_nearest_to_their_centroid():
    from cellwak.pl._tables import display_pixels, typical_cells

    rep = np.array([[0.0], [10], [1], [-3], [20], [21]])
    codes = np.array([0, 0, 0, 0, 1, 1])
    near = typical_cells(rep, codes, 2, 2)
    assert near[0].tolist() == [2, 0] and sorted(near[1].tolist()) == [4, 5]  # centroid of group 0 is 2.0
    pixels = display_pixels(np.full((2, 3, 4, 4), 255, np.uint8))
    assert pixels.shape == (2, 4, 4, 3) and pixels.max() == 1.0


def test_recorded_sweeps_are_told_apart():
    from cellwak.api.plots import _sweep_blocks

    def row(i, method, gamma=None, pid=1):
        return {"id": i, "method": method, "params": {"gamma": gamma}, "artifact": f"x-abc-p{pid}.npz"}

    rows = [row(1, "leiden-sweep", 0.1), row(2, "leiden-sweep", 1.0), row(3, "leiden"),
            row(4, "leiden-sweep", 0.1), row(5, "leiden-sweep", 1.0), row(6, "leiden-sweep", 0.1),
            row(7, "leiden-sweep", 1.0, pid=2), row(8, "leiden-sweep", 2.0, pid=2)]
    assert [[r["id"] for r in b] for b in _sweep_blocks(rows)] == [[1, 2], [4, 5], [6], [7, 8]]


def test_loss_table_pairs_train_and_held_out_losses_per_stage():
    from cellwak.pl._figures import loss_table

    metrics = pd.DataFrame({"scope": "epoch", "stage": ["a", "a", "a", "a", "b"], "epoch": [0, 0, 1, 1, 0],
                            "name": ["train/loss", "test/loss", "train/loss", "lr", "train/loss"],
                            "value": [2.0, 2.5, 1.0, 0.1, 0.5]})
    table = loss_table(metrics)
    assert table.to_dict("records") == [
        {"stage": "a", "epoch": 0, "split": "train", "value": 2.0},
        {"stage": "a", "epoch": 0, "split": "validation", "value": 2.5},
        {"stage": "a", "epoch": 1, "split": "train", "value": 1.0},
        {"stage": "b", "epoch": 0, "split": "train", "value": 0.5}]


# -- with R -----------------------------------------------------------------------------------------

@pytest.mark.r
@pytest.mark.skipif(not HAVE_R, reason="R (Rscript) and rpy2 are not installed")
def test_cli_plot_writes_a_real_png_and_answers_json(cli, clustered, home, tmp_path):
    from PIL import Image

    out = tmp_path / "emb.png"
    r = cli("plot", "embedding", "-d", "cells", "--out", out, "--width", "4", "--height", "3", "--dpi", "100", "--json")
    assert r.code == 0, r.err
    answer = r.json()
    assert answer["path"] == str(out.resolve()) and answer["format"] == "png" and answer["bytes"] == out.stat().st_size
    assert answer["kind"] == "embedding" and answer["color_by"] == "cluster" and answer["r_mode"] == "inprocess"
    image = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert image.shape == (300, 400) and image.std() > 10      # 4 x 3 inches at 100 dpi, not blank
    assert snapshot(home) == clustered                          # the workspace is only read
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


@pytest.mark.r
@pytest.mark.skipif(not HAVE_R, reason="R (Rscript) and rpy2 are not installed")
def test_an_r_error_is_one_clear_line_and_leaves_no_file(tmp_path):
    from cellwak.backends.r import RFigureError, render

    with pytest.raises(RFigureError) as info:
        render("embedding", [pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]})], {}, tmp_path / "f.svg",
               mode="inprocess")
    text = str(info.value)
    assert "\n" not in text and "no column 'value'" in text and "(it has: x, y)" in text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.r
@pytest.mark.skipif(not HAVE_R, reason="R (Rscript) and rpy2 are not installed")
def test_r_console_output_never_reaches_stdout(tmp_path, capfd):
    from cellwak.backends.r import render

    table = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 1.0, 2.0], "value": pd.Categorical(["a", "b", "a"])})
    render("embedding", [table], {"title": "quiet"}, tmp_path / "f.png", mode="inprocess")
    out, _ = capfd.readouterr()
    assert out == "" and (tmp_path / "f.png").stat().st_size > 1000


def test_doctor_names_missing_r_packages(monkeypatch):
    from cellwak.backends import r

    if r.rscript() is None:
        pytest.skip("R (Rscript) is not installed")
    monkeypatch.setattr(r, "R_PACKAGES", (*r.R_PACKAGES, "cellwakNoSuchPackage"))
    status = r.status(check_rpy2=False)
    assert status["status"] == "partial" and "cellwakNoSuchPackage" in status["detail"]
    assert "svglite" in status["packages"] and "ggrepel" in status["packages"]
    assert all(p.replace("r-cran-", "") in {x.lower() for x in r.R_PACKAGES} | {"complexheatmap"}
               for p in r.APT_PACKAGES if p.startswith("r-cran-"))


def test_figures_show_inline_only_in_a_notebook(tmp_path, monkeypatch):
    pytest.importorskip("IPython", reason="IPython is not installed (figures are shown inline only in Jupyter)")
    import IPython.display

    from cellwak.pl._figures import _show

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    (tmp_path / "f.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')
    _show(tmp_path / "f.svg", None)          # no notebook kernel here: nothing is displayed
    _show(tmp_path / "f.pdf", True)          # PDF: never inline
    assert shown == []
    _show(tmp_path / "f.svg", True)
    assert len(shown) == 1 and type(shown[0]).__name__ == "SVG"


def _spy_render(monkeypatch):
    """Record what the sweep figure hands to R (and write a placeholder file instead of drawing)."""
    import cellwak.backends.r as r_backend
    import cellwak.pl._figures as figures

    seen = {}

    def render(kind, args, opts, out, mode="auto"):
        seen.update(kind=kind, table=args[0], opts=opts)
        out.write_bytes(b"figure")
        return {"mode": "spy", "seconds": 0.0}

    monkeypatch.setattr(r_backend, "render", render)
    monkeypatch.setattr(figures, "_show", lambda path, show: None)
    return seen


def test_the_sweep_figure_gets_the_rules_test_and_threshold(cli, populated, home, tmp_path, monkeypatch):
    """`--gamma auto`: each resolution's pass/fail of the stability rule and its threshold reach R
    (failing resolutions drawn open, the threshold dotted); another --rule: neither does."""
    from cellwak import api

    out = cli("--json", "cluster", "-d", "cells", "--gamma", "auto", "--jobs", "1").json()
    monkeypatch.setattr("cellwak.backends.r.figure_available", lambda: None)
    seen = _spy_render(monkeypatch)
    api.plot(home, "cells", "sweep", api.PlotConfig(out=str(tmp_path / "s.png")))
    table, opts = seen["table"], seen["opts"]
    expected = {r["gamma"]: r["passed"] for r in out["evidence"]["resolutions"]}
    assert dict(zip(table["gamma"], table["passed"].astype(bool))) == expected
    assert opts["threshold"] == pytest.approx(out["evidence"]["threshold"]) and opts["rule"] == "stable-clusters-5"
    assert opts["cluster_floor"] == 0.6  # the floor line of the rule that chose

    swept = cli("--json", "sweep", "-d", "cells", "--jobs", "1").json()  # its own record holds the threshold
    api.plot(home, "cells", "sweep", api.PlotConfig(out=str(tmp_path / "s.png")))
    assert seen["opts"]["threshold"] == pytest.approx(swept["evidence"]["threshold"])

    assert cli("sweep", "-d", "cells", "--jobs", "1", "--rule", "silhouette").code == 0
    api.plot(home, "cells", "sweep", api.PlotConfig(out=str(tmp_path / "s.png")))
    assert "passed" not in seen["table"] and "threshold" not in seen["opts"] and seen["opts"]["rule"] == "silhouette"


def test_a_sweep_recorded_before_the_threshold_was_takes_it_from_the_auto_clustering():
    from cellwak.api.plots import _sweep_threshold

    def row(i, method, params):
        return {"id": i, "method": method, "params": params}

    block = [row(1, "leiden-sweep", {"gamma": 0.1}), row(2, "leiden-sweep", {"gamma": 1.0})]
    auto = row(3, "leiden", {"evidence": {"threshold": 0.81}})
    assert _sweep_threshold(block + [auto], block) == 0.81
    assert _sweep_threshold(block, block) is None                       # a plain `sweep` of that time
    fresh = [row(1, "leiden-sweep", {"rule_threshold": 0.7}), row(2, "leiden-sweep", {"rule_threshold": 0.7})]
    assert _sweep_threshold(fresh + [auto], fresh) == 0.7                # the sweep's own record first


def test_pl_sweep_in_a_notebook_takes_the_threshold_from_the_sweeps_record(monkeypatch, tmp_path):
    import json

    import anndata as ad

    import cellwak as cw

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 1, (60, 5)) for c in (0, 8, 16)]).astype(np.float32)
    a = ad.AnnData(X)
    cw.pp.neighbors(a)
    cw.tl.sweep(a, [0.1, 0.5, 1.0, 2.0], subsamples=2, n_jobs=1)
    seen = _spy_render(monkeypatch)
    cw.pl.sweep(a, out=tmp_path / "s.png", show=False)
    threshold = json.loads(a.uns["cellwak_leiden_sweep"]["evidence_json"])["threshold"]
    assert seen["opts"]["threshold"] == pytest.approx(threshold) and "passed" in seen["table"]
