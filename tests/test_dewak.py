"""DEWAK: choosing (d, k) by the noise2self loss of the WAK kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import snapshot

from cellwak.errors import InputError
from cellwak.graph.build import directed_knn_matrix
from cellwak.graph.kernels import inverse_distance, noise2self_loss, wak
from cellwak.graph.knn import exact_knn
from cellwak.tl._dewak_eval import LossTable
from cellwak.tl._dewak_loss import gram_matrix, losses_all_k, mean_predictor_loss
from cellwak.tl._dewak_search import k_ladder
from cellwak.tl.dewak import dewak, scale


def lowrank(n=300, latent=3, m=20, clusters=6, noise=0.3, seed=0):
    """Clusters in a ``latent``-dimensional space, embedded linearly into m features, plus noise."""
    import anndata as ad

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (clusters, latent))
    Z = centres[rng.integers(0, clusters, n)] + rng.normal(0, 1, (n, latent))
    X = Z @ rng.normal(0, 1, (latent, m)) + rng.normal(0, 3 * noise, (n, m))
    return ad.AnnData(X.astype(np.float32))


def scratch_loss(X, knn, k, norm, float64_sums=True):
    """The loss of one (d, k) with the kernel built the slow, obvious way. directed_knn_matrix
    stores the affinities in float32 (so does DEWAK); scipy then sums a float32 matrix in float32,
    so for a 1e-9 comparison the matrix is converted to float64 before WAK sums its columns."""
    prefix = knn.prefix(k)
    A = directed_knn_matrix(prefix, inverse_distance(prefix.distances))
    return noise2self_loss(X, wak(A.astype(np.float64) if float64_sums else A, norm))


# -- the prefix trick --------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["col", "row"])
def test_all_k_from_one_search_equal_kernels_built_from_scratch(norm):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 12))
    X[7] = X[3]                                   # a duplicated cell: distance 0, affinity 1/eps
    for d in (2, 5):
        knn = exact_knn(X[:, :d], 25)
        s = inverse_distance(knn.distances)
        ks = np.arange(1, 26)
        fast = losses_all_k(X, knn.indices, s, ks, norm=norm)
        slow = np.array([scratch_loss(X, knn, k, norm) for k in ks])
        np.testing.assert_allclose(fast, slow, rtol=1e-9)
        as_is = np.array([scratch_loss(X, knn, k, norm, float64_sums=False) for k in ks])
        np.testing.assert_allclose(fast, as_is, rtol=1e-6)
        if norm == "col":                         # the Gram-matrix route gives the same numbers
            via_gram = losses_all_k(X, knn.indices, s, ks, norm=norm, gram=gram_matrix(X))
            np.testing.assert_allclose(via_gram, slow, rtol=1e-9)
        some = losses_all_k(X, knn.indices, s, [25, 3, 11], norm=norm, block=7, workers=2)
        np.testing.assert_allclose(some, slow[[2, 10, 24]], rtol=1e-9)


def test_dewak_table_matches_scratch_kernels_on_the_pcs():
    adata = lowrank(n=200, m=15)
    result = dewak(adata, search="grid", d_values=[2, 4], k_max=30, norm="col", scaling="sample")
    X = scale(np.asarray(adata.X), "sample")
    from cellwak.pp.representation import pca

    pcs = pca(X, 4, 0)[0]
    for d in (2, 4):
        knn = exact_knn(pcs[:, :d], 30)
        rows = result.table[result.table.d == d].set_index("k")["loss"]
        assert list(rows.index) == list(range(1, 31))
        for k in (1, 9, 30):
            assert rows[k] == pytest.approx(scratch_loss(X, knn, k, "col"), rel=1e-5)


def test_loss_table_searches_neighbours_once_per_d():
    adata = lowrank(n=120)
    X = scale(np.asarray(adata.X), "sample")
    table = LossTable(X, np.asarray(adata.X)[:, :6], 20)
    table.losses(3, [1, 5])
    table.losses(3, range(1, 21))
    table.loss(4, 7)
    table.losses(3, [20])
    assert table.n_knn == 2
    assert len(table.frame()) == 21
    assert table.best(4)[:2] == (4, 7)


def test_repair_finds_cells_an_approximate_search_missed():
    from cellwak.graph.knn import KNN
    from cellwak.graph.repair import missed_cells, repair

    rng = np.random.default_rng(3)
    Y = rng.normal(size=(400, 3)).astype(np.float32)
    exact = exact_knn(Y, 10)
    np.testing.assert_array_equal(repair(Y, exact)[0].indices, exact.indices)   # outliers may be flagged: harmless
    wider = exact_knn(Y, 14)
    stranded, unreachable = np.array([5, 17]), np.array([230, 231])
    # what failed approximate searches leave: nobody lists these cells, and the stranded ones
    # hold lists from the far side of the data
    idx, dist = wider.indices.copy(), wider.distances.copy()
    far = np.argsort(-np.linalg.norm(Y[stranded][:, None] - Y[None], axis=2), axis=1)[:, :14]
    idx[stranded] = far
    dist[stranded] = np.linalg.norm(Y[far] - Y[stranded][:, None], axis=2)
    keep = ~np.isin(idx, np.concatenate([stranded, unreachable]))
    keep[stranded] = True
    rows = [np.flatnonzero(keep[i])[:10] for i in range(len(Y))]
    broken = KNN(np.stack([idx[i, r] for i, r in enumerate(rows)]), np.stack([dist[i, r] for i, r in enumerate(rows)]))
    assert not np.array_equal(broken.indices, exact.indices)
    flagged = set(missed_cells(broken).tolist())
    assert set(stranded.tolist()) <= flagged and set(unreachable.tolist()) <= flagged
    fixed, searched = repair(Y, broken)
    assert searched >= 4
    lost = np.concatenate([stranded, unreachable])
    np.testing.assert_array_equal(fixed.indices[lost], exact.indices[lost])
    np.testing.assert_allclose(fixed.distances[lost], exact.distances[lost], rtol=1e-5)
    wrong_before = np.mean(broken.indices != exact.indices)
    wrong_after = np.mean(fixed.indices != exact.indices)
    assert wrong_before > 0.005 and wrong_after < 0.001   # nearly every list back (a far reverse neighbour may stay out)
    assert np.isin(lost, fixed.indices).all()              # everyone lost is listed again
    capped, searched = repair(Y, broken, max_pairs=2 * len(Y))  # a budget of two exact searches
    assert searched == 2 and (capped.indices != exact.indices).any()


def test_approximate_neighbours_give_nearly_the_exact_losses():
    adata = lowrank(n=1500, m=20, clusters=30, seed=4)
    exact = dewak(adata, search="grid", d_values=[3, 6], k_max=30, knn_method="exact")
    approx = dewak(adata, search="grid", d_values=[3, 6], k_max=30, knn_method="hnsw")
    assert approx.params["knn"] == "hnsw" and exact.params["knn"] == "exact"
    np.testing.assert_allclose(approx.table.loss, exact.table.loss, rtol=0.01)


# -- searches ----------------------------------------------------------------------------------
def test_grid_coordinate_and_golden_agree_on_an_easy_problem():
    adata = lowrank(seed=0)
    grid = dewak(adata, search="grid", d_max=8, k_max=40, scaling="none")
    coord = dewak(adata, search="coordinate", d_max=8, k_max=40, scaling="none")
    gold = dewak(adata, search="golden", d_max=8, k_max=40, scaling="none")
    assert grid.n_evaluated == 8 * 40 and grid.n_knn == 8
    assert (coord.d, coord.k) == (grid.d, grid.k)
    assert coord.loss == pytest.approx(grid.loss, rel=1e-6)
    assert coord.n_evaluated < grid.n_evaluated
    assert (gold.d, gold.k) == (grid.d, grid.k)
    assert gold.n_knn <= 8
    # the grid's answer really is the smallest loss it saw
    assert grid.loss == pytest.approx(grid.table.loss.min())


def test_coordinate_search_follows_the_reference_windows():
    adata = lowrank(seed=0)
    coord = dewak(adata, search="coordinate", d_max=8, k_max=40, scaling="none", start=(2, 3), window=(1, 2))
    path = list(zip(coord.details["path_d"], coord.details["path_k"]))
    assert path[0] == (2, 3)
    for (d0, k0), (d1, k1) in zip(path[:-2], path[1:-1]):   # local steps; the last is the wide pass
        assert abs(d1 - d0) <= 1 and abs(k1 - k0) <= 2
    assert coord.details["converged"]


def test_the_loss_needs_the_signal_dimensions_and_beats_the_mean_predictor():
    adata = lowrank(n=400, latent=3, m=30, noise=0.3, seed=0)
    result = dewak(adata, search="grid", d_max=6, k_max=40, scaling="none")
    profile = result.table.groupby("d").loss.min()
    # an elbow at the signal's 3 dimensions: fewer PCs are much worse, more barely help (the loss
    # keeps creeping down past it because a cell's own noise steers which neighbours it gets)
    assert profile[3] < 0.7 * profile[2] and profile[2] < 0.7 * profile[1]
    assert profile[6] > 0.9 * profile[3]
    assert result.d >= 3
    assert result.loss < 0.2 * result.baseline_loss
    X = np.asarray(adata.X, dtype=np.float64)
    assert result.baseline_loss == pytest.approx(float(np.mean((X - X.mean(0)) ** 2)))


def test_k_ladder():
    assert k_ladder(5) == [1, 2, 3, 4, 5]
    ladder = k_ladder(100)
    assert ladder[:8] == list(range(1, 9)) and ladder[-1] == 100
    assert all(b > a for a, b in zip(ladder, ladder[1:]))
    assert max(b / a for a, b in zip(ladder[7:], ladder[8:])) < 1.35


def test_scaling_modes():
    X = np.array([[1.0, -4.0, 2.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(scale(X, "sample")[0], [0.25, -1.0, 0.5])
    np.testing.assert_allclose(scale(X, "sample")[2], 0.0)
    np.testing.assert_allclose(np.abs(scale(X, "feature")).max(axis=0), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(scale(X, "standard").mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scale(X, "none"), X)


# -- what is written ---------------------------------------------------------------------------
def test_writes_uns_and_survives_h5ad(tmp_path):
    import anndata as ad

    adata = lowrank(n=150)
    adata.X[:, 4] = 0.0                             # an all-zero feature is dropped, as the reference does
    result = dewak(adata, search="coordinate", d_max=6, k_max=20)
    rec = adata.uns["cellwak_dewak"]
    assert (rec["d"], rec["k"]) == (result.d, result.k)
    assert rec["loss"] == pytest.approx(result.loss) and rec["baseline_loss"] > rec["loss"]
    assert len(rec["evaluated"]["loss"]) == result.n_evaluated == rec["n_evaluated"]
    assert rec["params"]["dropped_zero_features"] == 1 and rec["params"]["n_features"] == 19
    assert adata.uns["cellwak"]["dewak"]["step"] == "dewak"
    path = tmp_path / "a.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path).uns["cellwak_dewak"]
    assert int(back["d"]) == result.d and int(back["k"]) == result.k
    np.testing.assert_allclose(back["evaluated"]["loss"], result.table.loss)
    matrix = result.loss_matrix()
    assert matrix.loc[result.d, result.k] == pytest.approx(result.loss)


def test_default_d_max_keeps_99_percent_of_the_variance():
    adata = lowrank(n=200, latent=3, m=20, noise=0.02)
    result = dewak(adata, k_max=10, search="golden")
    assert 3 <= result.params["d_max"] <= 20 and "99%" in result.params["d_max_rule"]


@pytest.mark.parametrize("kwargs, words", [
    ({"d_max": 0}, "--d-max"), ({"k_max": 0}, "--k-max"), ({"k_max": 150}, "not smaller than"),
    ({"search": "random"}, "unknown search"), ({"norm": "sym"}, "normalisation"),
    ({"scaling": "log"}, "unknown scaling"), ({"d_max": 500}, "PCs asked for"),
    ({"use_rep": "X_nothing"}, "no representation"), ({"d_values": [0, 2]}, "positive"),
])
def test_bad_parameters_raise_one_clear_input_error(kwargs, words):
    adata = lowrank(n=150)
    with pytest.raises(InputError, match=words) as info:
        dewak(adata, **kwargs)
    assert "\n" not in str(info.value)
    assert "cellwak_dewak" not in adata.uns


def test_mean_predictor_loss():
    X = np.array([[0.0, 2.0], [2.0, 0.0]])
    assert mean_predictor_loss(X) == pytest.approx(1.0)


# -- command line ------------------------------------------------------------------------------
@pytest.fixture
def cells(cli, home, table_csv):
    r = cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type")
    assert r.code == 0, r.err
    return snapshot(home)


def test_cli_json(cli, cells):
    r = cli("dewak", "-d", "cells", "--k-max", "20", "--search", "grid", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert {"dataset", "d", "k", "loss", "baseline_loss", "n_evaluated", "seconds"} <= set(out)
    assert out["dataset"] == "cells" and 1 <= out["d"] <= 5 and 1 <= out["k"] <= 20
    assert out["n_evaluated"] == out["d_max"] * 20 and out["loss"] < out["baseline_loss"]
    human = cli("dewak", "-d", "cells", "--k-max", "20", "--norm", "row")
    assert human.code == 0 and "DEWAK chose" in human.out and "mean predictor" in human.out


def test_cli_saves_the_result_in_the_dataset(cli, cells, home):
    assert cli("dewak", "-d", "cells", "--k-max", "15", "--search", "coordinate", "--json").code == 0
    from cellwak.store import Workspace

    adata = Workspace(home).load("cells")
    assert adata.uns["cellwak_dewak"]["params"]["search_resolved"] == "coordinate"
    assert 1 <= int(adata.uns["cellwak_dewak"]["k"]) <= 15


@pytest.mark.parametrize("args", [
    ["--k-max", "0"], ["--k-max", "90"], ["--d-max", "0"], ["--d-max", "99"], ["--search", "random"],
    ["--norm", "sym"], ["--scaling", "log"], ["--rep", "X_missing"],
])
def test_cli_bad_parameters_exit_2_with_one_line_and_change_nothing(cli, cells, home, args):
    r = cli("dewak", "-d", "cells", *args)
    assert r.code == 2, (r.out, r.err)
    assert len(r.err.strip().splitlines()) == 1 and r.err.startswith("cellwak: error:")
    assert snapshot(home) == cells


@pytest.mark.slow  # 13 s: full grid on the real embryo screen
# -- the real embryo screen ---------------------------------------------------------------------
@pytest.mark.real_data
def test_embryo_screen_reproduces_the_reference(shared_data):
    """shared methods/deepwak.md 1.7 and Appendix: 1,831 embryos x 114 features, per-sample scaling."""
    import anndata as ad

    frame = pd.read_csv(shared_data / "embryo_screen" / "z_dat.csv", index_col=0)
    adata = ad.AnnData(frame.to_numpy(np.float32))
    grid = dewak(adata, search="grid", d_max=50, k_max=100)
    assert grid.params["dropped_zero_features"] == 2 and grid.params["n_features"] == 114
    assert grid.baseline_loss == pytest.approx(0.1135, abs=5e-5)
    table = grid.table.set_index(["d", "k"])["loss"]
    assert table[(29, 78)] == pytest.approx(0.0431, abs=5e-5)           # the reference's (d, k)
    assert grid.loss <= table[(29, 78)] and grid.loss == pytest.approx(0.0431, rel=0.05)
    assert 25 <= grid.d <= 40 and 60 <= grid.k <= 100                   # the flat valley around it

    X = scale(frame.to_numpy(np.float64)[:, np.abs(frame.to_numpy()).sum(0) > 0], "sample")
    from cellwak.pp.representation import pca

    rows = LossTable(X, pca(X, 29, 0)[0], 100, norm="row")
    assert rows.loss(29, 78) == pytest.approx(0.0528, abs=5e-5)
    assert rows.loss(29, 20) == pytest.approx(0.0452, abs=5e-5)

    coord = dewak(adata, search="coordinate", d_max=50, k_max=100)
    assert abs(coord.d - 29) <= 4 and coord.loss == pytest.approx(0.0431, rel=0.05)
    assert coord.loss <= 1.02 * grid.loss
