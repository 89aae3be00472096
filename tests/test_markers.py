"""Marker features per cluster (cw.tl.markers, `cellwak markers`) and the per-cluster summary of
`cellwak clusters show`: statistics against scipy, scanpy's storage layout read by scanpy's own
functions, the image counterpart, refusals that leave the workspace unchanged."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

import cellwak as cw
from cellwak.errors import InputError
from cellwak.tl import _markers as M

from conftest import snapshot


def _small(seed: int = 0, n: int = 240):
    """Features with ties (rounded, integer, constant-in-a-group) and a shifted group."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    X[:, 1] = np.round(X[:, 1])                 # many ties
    X[:, 2] = rng.integers(0, 3, n)             # three values only
    codes = rng.integers(0, 4, n)
    X[codes == 1, 0] += 1.5
    X[codes == 2, 3] = 0.25                     # constant inside group 2
    return X, codes


def _adata(X, codes, **uns):
    import anndata as ad

    a = ad.AnnData(X.copy(), obs=pd.DataFrame({"g": pd.Categorical([f"c{c}" for c in codes])},
                                             index=[f"cell{i}" for i in range(len(codes))]))
    a.var_names = [f"f{j}" for j in range(X.shape[1])]
    a.uns.update(uns)
    return a


# -- statistics ----------------------------------------------------------------------------------

def test_wilcoxon_matches_scipy_with_ties():
    X, codes = _small()
    r = M.marker_statistics(X, codes, list("abcd"), [f"f{j}" for j in range(6)], method="wilcoxon")
    for k in range(4):
        for j in range(6):
            inside, rest = X[codes == k, j], X[codes != k, j]
            ref = st.mannwhitneyu(inside, rest, method="asymptotic", use_continuity=False)
            assert r.pvals[k, j] == pytest.approx(ref.pvalue, rel=1e-4, abs=1e-300)  # z within ~1e-7
            u = ref.statistic - len(inside) * len(rest) / 2  # the z-score's sign is U's
            assert np.sign(r.scores[k, j]) == np.sign(u) or abs(u) < 1e-9
    assert r.pvals[1, 0] < 1e-10 and r.scores[1, 0] > 0 and r.effect == M.SMD


def test_ttest_matches_scipy_welch():
    X, codes = _small(1)
    r = M.marker_statistics(X, codes, list("abcd"), [f"f{j}" for j in range(6)], method="t-test")
    for k in range(4):
        ref = st.ttest_ind(X[codes == k].astype(np.float64), X[codes != k].astype(np.float64), equal_var=False)
        np.testing.assert_allclose(r.scores[k], ref.statistic, rtol=1e-6)
        np.testing.assert_allclose(r.pvals[k], ref.pvalue, rtol=1e-6, atol=1e-300)


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(0).uniform(size=(3, 200)) ** 4
    np.testing.assert_allclose(M.bh_adjust(p), st.false_discovery_control(p, axis=-1), rtol=1e-12)
    X, codes = _small()
    r = M.marker_statistics(X, codes, list("abcd"), list("abcdef"))
    np.testing.assert_allclose(r.pvals_adj, st.false_discovery_control(r.pvals, axis=-1), rtol=1e-12)


def test_effect_size_and_pts():
    X, codes = _small(2)
    counts = np.abs(X.astype(np.float64)) * 10     # non-negative: log2 fold change of means
    r = M.marker_statistics(counts, codes, list("abcd"), list("abcdef"), method="t-test")
    m_in, m_out = counts[codes == 0].mean(0), counts[codes != 0].mean(0)
    np.testing.assert_allclose(r.effects[0], np.log2((m_in + 1e-9) / (m_out + 1e-9)), rtol=1e-5)
    assert r.effect == M.LOG2FC
    logged = M.marker_statistics(np.log1p(counts), codes, list("abcd"), list("abcdef"), log1p=True)
    e_in, e_out = np.expm1(np.log1p(counts)[codes == 0].mean(0)), np.expm1(np.log1p(counts)[codes != 0].mean(0))
    np.testing.assert_allclose(logged.effects[0], np.log2((e_in + 1e-9) / (e_out + 1e-9)), rtol=1e-5)
    assert logged.effect == M.LOG2FC_LOG1P
    r = M.marker_statistics(X, codes, list("abcd"), list("abcdef"), method="t-test")  # negative values: SMD
    a, b = X[codes == 1, 0].astype(np.float64), X[codes != 1, 0].astype(np.float64)
    assert r.effects[1, 0] == pytest.approx((a.mean() - b.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))
    median = np.median(X, axis=0)
    for method in ("wilcoxon", "t-test"):
        r = M.marker_statistics(X, codes, list("abcd"), list("abcdef"), method=method)
        np.testing.assert_allclose(r.pts[3], (X[codes == 3] > median).mean(0))
        np.testing.assert_allclose(r.pts_rest[3], (X[codes != 3] > median).mean(0))


def test_sparse_and_dense_give_the_same_markers():
    import scipy.sparse as sp

    X, codes = _small(3)
    X = np.maximum(X, 0)
    dense = M.marker_statistics(X, codes, list("abcd"), list("abcdef"))
    sparse = M.marker_statistics(sp.csr_matrix(X), codes, list("abcd"), list("abcdef"))
    np.testing.assert_allclose(dense.scores, sparse.scores)
    np.testing.assert_allclose(dense.pts, sparse.pts)


def test_logreg_scores_are_one_vs_rest_coefficients(monkeypatch):
    X, codes = _small(4)
    a = _adata(X, codes)
    r = M.run_markers(a, "g", method="logreg")
    assert r.pvals is None and r.scores.shape == (4, 6) and r.params["n_fit_cells"] == 240
    assert np.argmax(r.scores[1]) == 0                      # the shifted feature of group 1
    stored = a.uns["cellwak_markers"]
    assert "pvals" not in stored and stored["params"]["method"] == "logreg"
    monkeypatch.setattr(M, "LOGREG_MAX_CELLS", 100)        # above the cap: a seeded subsample
    assert M.run_markers(a, "g", method="logreg").params["n_fit_cells"] == 100


def test_refusals():
    X, codes = _small()
    a = _adata(X, codes)
    with pytest.raises(InputError, match="unknown --method 'anova'"):
        cw.tl.markers(a, "g", method="anova")
    with pytest.raises(InputError, match="--top must be at least 1"):
        cw.tl.markers(a, "g", n_top=0)
    with pytest.raises(InputError, match="no obs column 'nope'"):
        cw.tl.markers(a, "nope")
    with pytest.raises(InputError, match="no representation 'X_nope'"):
        cw.tl.markers(a, "g", use_rep="X_nope")
    a.obs["one"] = "x"
    with pytest.raises(InputError, match="only 1 group"):
        cw.tl.markers(a, "one")
    a.X[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        cw.tl.markers(a, "g")
    assert "cellwak_markers" not in a.uns


def test_wilcoxon_on_a_million_cells_is_vectorised():
    """Not the benchmark (benchmarks/bench_markers.py): 200,000 x 5 must take well under a second
    or two, which only a sort per feature and bincount sums allow."""
    import time

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 5)).astype(np.float32)
    codes = rng.integers(0, 30, len(X))
    t = time.perf_counter()
    r = M.marker_statistics(X, codes, [str(i) for i in range(30)], list("abcde"))
    assert time.perf_counter() - t < 5 and r.scores.shape == (30, 5)


# -- scanpy's layout, read by scanpy -------------------------------------------------------------

def test_scanpy_reads_the_results(tmp_path):
    import anndata as ad
    import matplotlib

    matplotlib.use("Agg")
    sc = pytest.importorskip("scanpy")
    import matplotlib.pyplot as plt

    X, codes = _small()
    a = _adata(np.abs(X), codes)
    cw.tl.markers(a, "g", method="wilcoxon")
    stored = a.uns["cellwak_markers"]
    assert set(stored) >= {"names", "scores", "logfoldchanges", "pvals", "pvals_adj", "pts", "pts_rest", "params"}
    for k, v in {"groupby": "g", "reference": "rest", "method": "wilcoxon", "use_raw": False, "layer": None,
                 "corr_method": "benjamini-hochberg"}.items():
        assert stored["params"][k] == v
    assert stored["names"].dtype.names == ("c0", "c1", "c2", "c3") and stored["scores"].dtype["c0"] == np.float32
    a.write_h5ad(tmp_path / "m.h5ad")
    b = ad.read_h5ad(tmp_path / "m.h5ad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sc.get.rank_genes_groups_df(b, "c1", key="cellwak_markers")
        assert df["names"].iloc[0] == "f0" and list(df["scores"]) == sorted(df["scores"], reverse=True)
        assert {"pvals_adj", "logfoldchanges", "pct_nz_group"} <= set(df.columns)
        sc.pl.rank_genes_groups(b, key="cellwak_markers", n_genes=3, show=False)
        sc.pl.rank_genes_groups_dotplot(b, key="cellwak_markers", n_genes=2, show=False)
    plt.close("all")
    cw.tl.markers(a, "g", n_top=2, key_added="few")
    assert len(a.uns["few"]["names"]) == 2


@pytest.fixture(scope="module")
def pbmc():
    from pathlib import Path

    sc = pytest.importorskip("scanpy")
    import anndata as ad

    path = Path(sc.__file__).parent / "datasets" / "10x_pbmc68k_reduced.h5ad"
    if not path.is_file():
        pytest.skip("scanpy's bundled pbmc68k_reduced is missing")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ad.read_h5ad(path)


def _overlap(a, key_a, key_b, n=10) -> list[float]:
    groups = a.obs["bulk_labels"].cat.categories
    return [len(set(a.uns[key_a]["names"][g][:n]) & set(a.uns[key_b]["names"][g][:n])) / n for g in groups]


@pytest.mark.slow  # scanpy compiles its rank sums with numba on first use (about 14 s in a fresh environment)
def test_top10_markers_agree_with_scanpy_on_pbmc68k(pbmc):
    """Same X (use_raw=False), both Wilcoxon, both tie-corrected: the top 10 per group agree
    exactly (mean overlap 1.0). Against scanpy's default (no tie correction) the overlap is 0.58:
    in this scaled X all zero counts of a gene share one value, and ignoring those ties shrinks the
    z-scores of sparse genes."""
    import scanpy as sc

    a = pbmc.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(a, "bulk_labels", method="wilcoxon", use_raw=False, tie_correct=True, key_added="sc")
    cw.tl.markers(a, "bulk_labels", method="wilcoxon")
    overlap = _overlap(a, "sc", "cellwak_markers")
    assert np.mean(overlap) >= 0.95, overlap
    g = a.obs["bulk_labels"].cat.categories[0]
    ours = pd.Series(a.uns["cellwak_markers"]["scores"][g], index=a.uns["cellwak_markers"]["names"][g])
    theirs = pd.Series(a.uns["sc"]["scores"][g], index=a.uns["sc"]["names"][g])
    np.testing.assert_allclose(ours.loc[theirs.index], theirs, atol=1e-4)


# -- images --------------------------------------------------------------------------------------

def test_image_counterpart_mean_crops_and_typical_cells():
    a = cw.datasets.cell_crops(90, size=12, seed=0)
    cw.tl.markers(a, "phenotype", method="t-test", n_typical=4)
    part = a.uns["cellwak_markers_images"]
    images = np.asarray(a.obsm["images"])
    codes = a.obs["phenotype"].cat.codes.to_numpy()
    assert part["mean"].shape == (3, 2, 12, 12) and part["mean"].dtype == np.float32
    np.testing.assert_allclose(part["mean"][1], images[codes == 1].mean(0), rtol=1e-5, atol=1e-6)
    assert part["typical"].shape == (3, 4)
    flat = images.reshape(len(images), -1) / images.max(axis=(0, 2, 3)).repeat(144)[None]
    for k in range(3):
        members = np.flatnonzero(codes == k)
        d = np.linalg.norm(flat[members] - flat[members].mean(0), axis=1)
        np.testing.assert_array_equal(part["typical"][k], members[np.argsort(d)[:4]])


def test_methods_are_spelt_once_per_layer():
    from cellwak.api.cluster_markers import METHODS

    assert METHODS == M.METHODS


# -- workspace and command line ------------------------------------------------------------------

@pytest.fixture
def gated_csv(tmp_path):
    """Three groups; group 'c' is mostly 'Unlabeled' (a gating leaves most of it out), with a few
    'b' among its labelled cells; two plates."""
    rng = np.random.default_rng(0)
    n = 120
    group = np.repeat(["a", "b", "c"], n // 3)
    X = rng.normal(size=(n, 4))
    X[group == "a", 0] += 6   # a: m0 high
    X[group == "b", 1] += 6   # b: m1 high
    X[group == "c", 2] -= 6   # c: m2 low
    label = group.astype(object).copy()
    c = np.flatnonzero(group == "c")
    label[c[:36]] = "Unlabeled"
    label[c[36:]] = "b"
    path = tmp_path / "gated.csv"
    pd.DataFrame({"cell": [f"c{i}" for i in range(n)], "type": label, "plate": np.where(np.arange(n) % 3 == 0, "p1", "p2"),
                  **{f"m{j}": X[:, j] for j in range(4)}}).to_csv(path, index=False)
    return path


@pytest.fixture
def clustered(cli, gated_csv):
    r = cli("data", "add", gated_csv, "--name", "g", "--id", "cell", "--label", "type", "--batch", "plate",
            "--unlabeled", "Unlabeled")
    assert r.code == 0, r.err
    r = cli("cluster", "-d", "g", "--gamma", "0.5", "--k", "10", "--json")
    assert r.code == 0, r.err
    assert r.json()["n_clusters"] == 3
    return r.json()["clustering_id"]


def test_cli_markers_output_json_and_stored_results(cli, home, clustered):
    from rich.console import Console

    from cellwak.cli.markers import render

    r = cli("markers", "-d", "g", "--top", "2")
    assert r.code == 0, r.err
    assert "cluster 0 (40 cells)" in r.out and "wilcoxon" in r.out
    out = cli("markers", "-d", "g", "--top", "2", "--json").json()
    assert out["clustering_id"] == clustered and out["method"] == "wilcoxon" and out["groupby"] == "cellwak_leiden"
    assert out["effect"] == M.SMD and len(out["clusters"]) == 3
    tops = {c["markers"][0]["name"] + c["markers"][0]["direction"] for c in out["clusters"]}
    assert tops == {"m0+", "m1+", "m2-"}
    for c in out["clusters"]:
        assert len(c["markers"]) == 2 and set(c["markers"][0]) >= {"name", "score", "effect", "p_adj", "pts"}
    adata = cw.Workspace(home).load("g")
    assert adata.uns["cellwak_markers"]["params"]["clustering_id"] == clustered
    assert adata.uns["cellwak_markers"]["names"].dtype.names == ("0", "1", "2")
    text = io.StringIO()
    render(Console(file=text, width=80), out)
    assert max(len(line) for line in text.getvalue().splitlines()) <= 80
    t = cli("markers", "-d", "g", "--method", "t-test", "--top", "1", "--json").json()
    assert t["method"] == "t-test" and len(t["clusters"][0]["markers"]) == 1


def test_cli_markers_refusals_change_nothing(cli, home, clustered, table_csv):
    assert cli("data", "add", table_csv, "--name", "other", "--id", "cell").code == 0
    other = cli("cluster", "-d", "other", "--gamma", "0.5", "--k", "10", "--json").json()["clustering_id"]
    before = snapshot(home)
    cases = [(("--clustering", "999"), "no clustering #999"),
             (("--clustering", other), f"clustering #{other} belongs to dataset 'other', not 'g'"),
             (("--method", "anova"), "anova"),
             (("--top", "0"), "--top must be at least 1"),
             (("--rep", "X_nope"), "no representation 'X_nope'")]
    for args, message in cases:
        r = cli("markers", "-d", "g", *args)
        assert r.code == 2, (args, r.err)
        assert r.err.strip().count("\n") == 0 and message in r.err, r.err
        j = cli("markers", "-d", "g", *args, "--json")
        assert j.code == 2 and j.json()["exit_code"] == 2
    assert snapshot(home) == before


def test_markers_of_an_older_clustering_use_its_own_labels(home, clustered):
    from cellwak import api

    newer = api.cluster(home, "g", api.ClusterConfig(gamma=3.0, k=10))
    assert newer.n_clusters != 3
    out = api.markers(home, "g", api.MarkersConfig(clustering=clustered, method="t-test"))
    assert out.groupby == f"cellwak_clustering_{clustered}" and len(out.clusters) == 3
    adata = cw.Workspace(home).load("g")
    np.testing.assert_array_equal(adata.obs[out.groupby].astype(int), cw.Workspace(home).clustering_labels(clustered))


def test_clusters_show_is_honest_about_unlabelled_cells(cli, home, clustered):
    r = cli("clusters", "show", clustered, "--json")
    assert r.code == 0, r.err
    c = r.json()
    assert c["label_column"] == "type" and c["unlabeled_values"] == ["Unlabeled"] and c["batch_column"] == "plate"
    assert c["markers"]["source"] == "computed" and c["markers"]["method"] == "t-test"
    by_marker = {row["markers"][0]["name"] + row["markers"][0]["direction"]: row for row in c["clusters"]}
    gated_out = by_marker["m2-"]                               # the mostly unlabelled group
    assert gated_out["size"] == 40 and gated_out["unlabelled"] == 36 and gated_out["unlabelled_share"] == 0.9
    assert gated_out["majority"] == {"label": "b", "count": 4, "share_of_all": 0.1, "share_of_labelled": 1.0}
    assert by_marker["m0+"]["majority"]["share_of_all"] == 1.0 and by_marker["m0+"]["unlabelled"] == 0
    for row in c["clusters"]:
        assert sum(row["batches"].values()) == row["size"] and set(row["batches"]) == {"p1", "p2"}
        assert len(row["markers"]) == 3 and row["markers_text"].count(" ") == 2
    text = cli("clusters", "show", clustered).out
    assert "90%" in text and "10%" in text and "m2-" in text and "cells per plate" in text
    assert max(len(line) for line in text.splitlines() if not line.startswith("  ")) <= 80

    assert cli("markers", "-d", "g", "--method", "wilcoxon").code == 0   # stored markers are used
    stored = cli("clusters", "show", clustered, "--json").json()
    assert stored["markers"]["source"] == "stored" and stored["markers"]["method"] == "wilcoxon"
    assert {row["markers"][0]["name"] for row in stored["clusters"]} == {"m0", "m1", "m2"}


def test_markers_on_an_image_dataset(cli, home, tmp_path):
    crops = cw.datasets.cell_crops(60, size=8, seed=1)
    np.savez(tmp_path / "crops.npz", images=np.asarray(crops.obsm["images"]))
    assert cli("data", "add", tmp_path / "crops.npz", "--name", "crops").code == 0
    assert cli("cluster", "-d", "crops", "--gamma", "0.5", "--k", "10").code == 0
    out = cli("markers", "-d", "crops", "--method", "t-test", "--top", "2", "--json").json()
    assert out["images"]["key"] == "cellwak_markers_images" and out["images"]["shape"] == [2, 8, 8]
    assert out["effect"] == M.LOG2FC
    adata = cw.Workspace(home).load("crops")
    part = adata.uns["cellwak_markers_images"]
    assert part["mean"].shape == (len(out["clusters"]), 2, 8, 8)
    labels = adata.obs["cellwak_leiden"].astype(int).to_numpy()
    for k, c in enumerate(out["clusters"]):
        typical = [i for i in part["typical"][k] if i >= 0]
        assert (labels[typical] == k).all() and out["images"]["typical"][c["cluster"]] == list(adata.obs_names[typical])
