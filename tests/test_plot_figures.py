"""Every figure type drawn into real PNG, PDF and SVG files (slow: run by `make test` after the fast
set): dimensions, size, non-blank content (PNG pixel variance; vector drawing operations) and the
labels a reader needs, found in the SVG's text. Then the same on the shared data (real_data)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.r,
              pytest.mark.skipif(shutil.which("Rscript") is None or importlib.util.find_spec("rpy2") is None,
                                 reason="R (Rscript) and rpy2 are not installed")]

WIDTH, HEIGHT, DPI = 6.0, 4.0, 100
GENES = [f"gene{i}" for i in range(8)]


def _cellwak(home, *args):
    from cellwak.cli import run

    code = run([str(a) for a in args] + ["--home", str(home), "--quiet"])
    assert code == 0, args


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """'crops4': the built-in blood crops in 4 simulated batches, clustered with gamma auto (a
    recorded sweep); 'screen': a perturbation table (8 genes in 3 phenotype groups) with known
    interaction pairs scored, and a short DeePWAK run."""
    home = tmp_path_factory.mktemp("plots") / "home"
    tmp = home.parent
    _cellwak(home, "data", "simulate-batches", "blood", "--into", "crops4", "--composition", "uniform")
    _cellwak(home, "cluster", "-d", "crops4", "--gamma", "auto", "--subsamples", "2", "--jobs", "1")
    rng = np.random.default_rng(0)
    phenotype = {g: i % 3 for i, g in enumerate(GENES)}
    centres = rng.normal(0, 3, (3, 10))
    with open(tmp / "screen.csv", "w") as fh:
        fh.write("cell,gene," + ",".join(f"f{j}" for j in range(10)) + "\n")
        for i in range(480):
            g = GENES[i % len(GENES)]
            x = centres[phenotype[g]] + rng.normal(0, 1, 10)
            fh.write(f"c{i},{g}," + ",".join(f"{v:.4f}" for v in x) + "\n")
    (tmp / "pairs.csv").write_text("a,b\ngene0,gene3\ngene1,gene4\ngene2,gene5\ngene0,gene1\ngene6,gene7\n")
    _cellwak(home, "data", "add", tmp / "screen.csv", "--id", "cell", "--label", "gene")
    _cellwak(home, "cluster", "-d", "screen", "--gamma", "0.5")
    _cellwak(home, "string", "-d", "screen", "--condition", "gene", "--pairs", tmp / "pairs.csv", "--permutations", "20")
    _cellwak(home, "train", "deepwak", "-d", "screen", "--epochs", "3", "--heads", "1", "--threads", "1")
    return home


CASES = {  # kind -> (dataset, --color-by, words the SVG must show)
    "embedding": ("crops4", None, ["cluster", "PC1", "PC2", "2,400 cells"]),
    "heatmap": ("crops4", None, ["cells", "labels", "batches", "z-score of", "neutrophil", "b0"]),
    "enrichment": ("crops4", None, ["cluster", "log2 odds", "-log10 FDR", "platelet", "eosinophil", "ring: FDR"]),
    "string": ("screen", None, ["gene0", "gene3", "gene7", "same cluster", "cluster of"]),
    "sweep": ("crops4", None, ["resolution gamma", "clusters", "stability (ARI)", "chosen gamma", "agreement with labels",
                               "dotted line: its threshold"]),
    "loss": ("screen", None, ["epoch", "train", "validation", "best validation"]),
    "composition": ("crops4", None, ["b0", "b3", "share of cells", "cluster"]),
    "montage": ("crops4", None, ["cluster 0", "cells"]),
}


def _svg_text(path) -> tuple[str, ET.Element]:
    root = ET.parse(path).getroot()
    return " ".join(t.strip() for t in root.itertext() if t.strip()), root


def _pdf_drawing_operations(data: bytes) -> int:
    count = 0
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        body = match.group(1)
        try:
            body = zlib.decompress(body)
        except zlib.error:
            pass
        count += len(re.findall(rb"\b(?:re|l|c|f|S|Do|Tj|TJ)\b", body))
    return count


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
@pytest.mark.parametrize("kind", list(CASES))
def test_every_figure_in_every_format(workspace, tmp_path, kind, fmt):
    from cellwak import api

    dataset, color_by, words = CASES[kind]
    out = tmp_path / f"{kind}.{fmt}"
    result = api.plot(workspace, dataset, kind, api.PlotConfig(out=str(out), color_by=color_by, width=WIDTH,
                                                               height=HEIGHT, dpi=DPI))
    assert result.path == str(out.resolve()) and result.bytes == out.stat().st_size and result.kind == kind
    size = out.stat().st_size
    if fmt == "png":
        from PIL import Image

        image = Image.open(out)
        assert image.size == (WIDTH * DPI, HEIGHT * DPI)
        pixels = np.asarray(image.convert("RGB"), dtype=float)
        assert pixels.std() > 15, f"{kind}: the PNG looks blank (pixel sd {pixels.std():.1f})"
        assert (pixels.std(axis=2) > 20).mean() > 0.002, f"{kind}: no coloured ink"   # colour, not only grey
        assert 8_000 < size < 1_500_000
    elif fmt == "pdf":
        data = out.read_bytes()
        assert data.startswith(b"%PDF") and b"%%EOF" in data[-64:]
        box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
        assert box and (float(box.group(1)), float(box.group(2))) == (WIDTH * 72, HEIGHT * 72)
        assert _pdf_drawing_operations(data) > 30 and size > 4_000
    else:
        text, root = _svg_text(out)
        assert root.get("width", "").startswith(f"{WIDTH * 72:g}") and root.get("height", "").startswith(f"{HEIGHT * 72:g}")
        shapes = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("path", "circle", "rect", "polyline",
                                                                           "polygon", "line", "image")]
        assert len(shapes) > 20 and size > 5_000
        missing = [w for w in words if w not in text]
        assert not missing, f"{kind}: labels missing from the SVG: {missing}"


def test_a_child_process_draws_the_same_figure(workspace, tmp_path, monkeypatch):
    from cellwak import api

    config = api.PlotConfig(out=str(tmp_path / "here.png"), width=4, height=3, dpi=72)
    here = api.plot(workspace, "crops4", "heatmap", config)
    monkeypatch.setenv("CELLWAK_R_MODE", "child")
    child = api.plot(workspace, "crops4", "heatmap", config.replace(out=str(tmp_path / "child.png")))
    assert (here.r_mode, child.r_mode) == ("inprocess", "child")
    assert (tmp_path / "here.png").read_bytes() == (tmp_path / "child.png").read_bytes()


def test_a_thread_never_runs_r_in_process(workspace, tmp_path):
    """R is not thread-safe: a worker thread (the dashboard's) gets a child process."""
    import threading

    from cellwak import api

    answer = {}
    worker = threading.Thread(target=lambda: answer.update(api.plot(
        workspace, "screen", "loss", api.PlotConfig(out=str(tmp_path / "loss.svg"))).to_dict()))
    worker.start()
    worker.join(120)
    assert answer["r_mode"] == "child" and (tmp_path / "loss.svg").stat().st_size > 5_000


def test_pl_functions_write_nothing_into_the_anndata(tmp_path):
    import cellwak as cw

    adata = cw.datasets.cell_crops(200, size=16, seed=0)
    adata.obs["group"] = (np.arange(200) % 3).astype(str)
    before = (set(adata.obs), set(adata.obsm), set(adata.uns))
    paths = [cw.pl.embedding(adata, "group", out=tmp_path / "e.svg"),
             cw.pl.heatmap(adata, "group", out=tmp_path / "h.pdf", statistic="median", scale="minmax"),
             cw.pl.montage(adata, "group", out=tmp_path / "m.png", n=4),
             cw.pl.composition(adata, "group", "phenotype", out=tmp_path / "c.png"),
             cw.pl.embedding(adata, str(adata.var_names[0]), out=tmp_path / "feature.svg")]   # a feature: viridis
    assert all(p.stat().st_size > 1_000 for p in paths) and paths[0] == tmp_path / "e.svg"
    assert (set(adata.obs), set(adata.obsm), set(adata.uns)) == before


@pytest.mark.real_data
def test_flowsom_heatmap_shows_the_dead_cell_cluster(shared_data, tmp_path):
    """The live/dead stain (l/d) marks a cluster of events the gating left out, and the figure shows it."""
    from cellwak import api
    from cellwak.io import labelled_mask
    from cellwak.pl._tables import heatmap_table

    home = tmp_path / "home"
    data = shared_data / "flowsom_bal"
    _cellwak(home, "data", "add", data / "ff.fcs", "--name", "bal", "--labels", data / "gating_result.csv",
             "--unlabeled", "Unlabeled", "--arcsinh", "5")
    _cellwak(home, "cluster", "-d", "bal", "--gamma", "0.3")
    ws = api.open_workspace(home)
    adata = ws.load("bal")
    labels = ws.clustering_labels(ws.clusterings("bal")[-1]["id"])
    truth, mask = labelled_mask(adata)
    table, _ = heatmap_table(adata, labels.astype(str), labels=truth, label_mask=mask)
    dead = table["l/d"].idxmax()   # the live/dead stain's brightest cluster: outside the gating, not T cells
    assert table.loc[dead, "label__unlabelled"] > 0.9 and table.loc[dead, "CD3"] < table["CD3"].median()
    out = tmp_path / "bal.svg"
    api.plot(home, "bal", "heatmap", api.PlotConfig(out=str(out)))
    text, _ = _svg_text(out)
    assert "l/d" in text and "CD3" in text and "unlabelled (" in text and "Unlabeled" not in text


def _tables_for_rscript(rng) -> dict:
    """One small input table per r/plot_*.R file, as an R user would write it."""
    import pandas as pd

    k = np.repeat(np.arange(4), 50)
    crops = rng.random((8, 3 * 6 * 6))
    return {
        "plot_embedding.R": pd.DataFrame({"x": rng.normal(size=200) + k, "y": rng.normal(size=200), "value": k}),
        "plot_heatmap.R": pd.DataFrame({"cluster": range(4), "n_cells": [50, 40, 30, 20], "label": list("ABCD"),
                                        "CD3": [1.0, 2, 3, 4], "CD19": [4.0, 1, 2, 0], "l/d": [0.0, 0, 5, 0]}),
        "plot_enrichment.R": pd.DataFrame({"cluster": np.repeat(range(3), 4), "value": list("wxyz") * 3,
                                           "log2_odds_ratio": rng.normal(0, 2, 12), "fdr": rng.random(12)}),
        "plot_network.R": pd.DataFrame({"a": ["Fgfr", "Gata", "Rho"], "b": ["Gata", "Rho", "Ets"],
                                        "cluster_a": [0, 0, 1], "cluster_b": [0, 1, 1]}),
        "plot_sweep.R": pd.DataFrame({"gamma": [0.1, 0.3, 1.0, 3.0], "n_clusters": [2, 4, 8, 16],
                                      "stability_subsample": [0.99, 0.97, 0.7, 0.6], "chosen": [False, True, False, False]}),
        "plot_loss.R": pd.DataFrame({"stage": "pretrain", "epoch": np.repeat(range(5), 2),
                                     "split": ["train", "validation"] * 5, "value": np.linspace(2, 1, 10)}),
        "plot_composition.R": pd.DataFrame({"group": np.repeat(["s1", "s2"], 3), "cluster": [0, 1, 2] * 2,
                                            "count": [10, 20, 30, 5, 5, 40]}),
        "plot_montage.R": pd.concat([pd.DataFrame({"cluster": np.repeat([0, 1], 4), "channels": 3, "height": 6,
                                                   "width": 6}),
                                     pd.DataFrame(crops, columns=[f"p{i}" for i in range(crops.shape[1])])], axis=1),
    }


def test_every_r_file_runs_alone_with_rscript(tmp_path):
    """R users: `Rscript r/plot_X.R --in TABLE --out FILE` draws the same figures without Python."""
    import subprocess

    from cellwak.resources import r_script

    rng = np.random.default_rng(0)
    for name, table in _tables_for_rscript(rng).items():
        source, out = tmp_path / f"{name}.csv", tmp_path / f"{name}.svg"
        table.to_csv(source, index=False)
        done = subprocess.run(["Rscript", str(r_script(name)), "--in", str(source), "--out", str(out), "--title",
                               f"from {name}"], check=False, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: {done.stderr[-500:]}"
        text, _ = _svg_text(out)
        assert f"from {name}" in text, name
    bad = subprocess.run(["Rscript", str(r_script("plot_loss.R")), "--in", str(tmp_path / "plot_sweep.R.csv"),
                          "--out", str(tmp_path / "x.png")], check=False, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and "no column" in bad.stderr
