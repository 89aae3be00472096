"""NN-descent (pynndescent) as a kNN search: exactness of its bookkeeping, its recall floor, and
its place among the searches ``auto`` probes. Tests that run pynndescent are ``slow``: its numba
code compiles in every process (about 50 s here)."""

from __future__ import annotations

import numpy as np
import pytest

from cellwak.graph.descent import LADDER, nndescent_knn
from cellwak.graph.knn import exact_knn, neighbors, recall

# one worker runs them all (make test: --dist loadgroup), so pynndescent compiles once, not on every worker
pytestmark = pytest.mark.xdist_group("pynndescent")


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(3)
    centers = rng.normal(0, 6, size=(5, 12))
    return (centers[rng.integers(0, 5, size=3000)] + rng.normal(size=(3000, 12))).astype(np.float32)


@pytest.mark.slow
def test_nndescent_lists_exclude_self_are_sorted_and_find_the_neighbours(blobs):
    knn = nndescent_knn(blobs, 10, seed=0, threads=1)
    assert knn.method == "nndescent" and knn.indices.shape == (3000, 10)
    assert not (knn.indices == np.arange(3000)[:, None]).any()
    assert (np.diff(knn.distances, axis=1) >= -1e-5).all()
    true = np.linalg.norm(blobs[knn.indices] - blobs[:, None, :], axis=2)  # distances belong to the indices
    np.testing.assert_allclose(knn.distances, true, rtol=1e-4, atol=1e-4)
    assert recall(knn, exact_knn(blobs, 10)) >= 0.95


@pytest.mark.slow
def test_nndescent_is_reproducible_for_a_seed_on_one_thread(blobs):
    a = nndescent_knn(blobs, 10, seed=4, threads=1)
    b = nndescent_knn(blobs, 10, seed=4, threads=1)
    np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.slow
def test_nndescent_under_the_recall_floor_tries_longer_lists_and_reports_each(blobs):
    knn = nndescent_knn(blobs, 10, seed=0, threads=1, min_recall=1.01)  # unreachable: every length is tried
    lists = knn.choice["lists"]
    assert [t["n_neighbors"] for t in lists] == [f * 10 + 1 for f in LADDER]
    assert all(0 < t["recall"] <= 1 for t in lists) and knn.choice["recall_floor"] == 1.01
    assert knn.recall == pytest.approx(recall(knn, exact_knn(blobs, 10)), abs=0.03)


@pytest.mark.slow
def test_nndescent_stops_at_the_first_list_length_that_reaches_the_floor(blobs):
    knn = nndescent_knn(blobs, 10, seed=0, threads=1, min_recall=0.5)
    assert len(knn.choice["lists"]) == 1 and knn.choice["lists"][0]["recall"] >= 0.5


def test_nndescent_refuses_an_impossible_k(blobs):
    with pytest.raises(ValueError, match="k must be in"):
        nndescent_knn(blobs[:5], 5)


@pytest.mark.slow
def test_auto_picks_nndescent_when_projected_fastest_and_holds_it_to_the_floor(monkeypatch, blobs):
    import cellwak.graph.choose as choose_mod

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    monkeypatch.setattr(choose_mod, "TREE_SURE_SECONDS", 0.0)
    monkeypatch.setattr(choose_mod, "HNSW_PROBE", 2000)
    monkeypatch.setattr(choose_mod, "_probe_tree", lambda X, k, rng, threads, share: (None, 1e9, {"forced": True}))
    monkeypatch.setattr(choose_mod, "_probe_ivf", lambda *a, **kw: (1e9, {"forced": True}, None))
    real = choose_mod._probe_hnsw
    monkeypatch.setattr(choose_mod, "_probe_hnsw", lambda *a: (1e9, real(*a)[1]))
    knn = neighbors(blobs, 15)
    assert knn.method == "nndescent"
    probe = knn.choice["probe"]["nndescent"]
    assert probe["cells"] == 2000 and probe["tried"][0]["n_neighbors"] == LADDER[0] * 15 + 1
    assert knn.choice["projected_seconds"]["nndescent"] < knn.choice["projected_seconds"]["hnsw"]
    assert knn.choice["recall_floor"] == 0.95 and knn.recall >= 0.95  # the full search measured, not assumed
    assert knn.choice["lists"][0]["n_neighbors"] == probe["params"]["ladder"][0] * 15 + 1


def test_nndescent_is_not_probed_where_hnsw_is_too_fast_to_repay_its_compilation(monkeypatch, blobs):
    import cellwak.graph.choose as choose_mod

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    monkeypatch.setattr(choose_mod, "TREE_SURE_SECONDS", 0.0)
    monkeypatch.setattr(choose_mod, "HNSW_PROBE", 2000)
    monkeypatch.setattr(choose_mod, "_probe_tree", lambda X, k, rng, threads, share: (None, 1e9, {"forced": True}))
    monkeypatch.setattr(choose_mod, "_probe_ivf", lambda *a, **kw: (1e9, {"forced": True}, None))
    monkeypatch.setattr(choose_mod, "_probe_descent", lambda *a: pytest.fail("NN-descent probed"))
    picked = choose_mod.choose(blobs, 15)  # 3,000 cells: HNSW projected far under DESCENT_WORTH_SECONDS
    assert picked.method == "hnsw" and "nndescent" not in picked.evidence["projected_seconds"]
    assert "not probed" in picked.evidence["nndescent"]


def test_nndescent_is_not_probed_where_another_search_is_too_fast_though_hnsw_is_slow(monkeypatch, blobs):
    """At 1,000,000 flow8 cells on a loaded machine HNSW was projected at 116 s and IVF at 65 s: the
    compilation (37 s) was paid for a search that could not win."""
    import cellwak.graph.choose as choose_mod

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    monkeypatch.setattr(choose_mod, "TREE_SURE_SECONDS", 0.0)
    monkeypatch.setattr(choose_mod, "HNSW_PROBE", 2000)
    monkeypatch.setattr(choose_mod, "_probe_tree", lambda X, k, rng, threads, share: (None, 1e9, {"forced": True}))
    monkeypatch.setattr(choose_mod, "_probe_ivf", lambda *a, **kw: (65.0, {"params": {"nprobe": 16}}, "an index"))
    monkeypatch.setattr(choose_mod, "_probe_hnsw", lambda *a: (116.0, {"params": {}}))
    monkeypatch.setattr(choose_mod, "_probe_descent", lambda *a: pytest.fail("NN-descent probed"))
    picked = choose_mod.choose(blobs, 15)
    assert picked.method == "ivf" and picked.evidence["nndescent"].startswith("not probed: IVF is projected at 65 s")


@pytest.mark.slow
def test_the_cli_accepts_nndescent_and_records_it(cli, home, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)) + rng.integers(0, 3, size=(600, 1)) * 6
    csv = tmp_path / "cells.csv"
    np.savetxt(csv, X, delimiter=",", header=",".join(f"f{i}" for i in range(5)), comments="")
    assert cli("data", "add", csv, "--name", "cells").code == 0
    out = cli("cluster", "-d", "cells", "--knn", "nndescent", "--json")
    assert out.code == 0, out.err
    params = out.json()["params"]
    assert params["knn"] == "nndescent" and params["knn_recall"] >= 0.95
    bad = cli("cluster", "-d", "cells", "--knn", "annoy")
    assert bad.code == 2 and "nndescent" in bad.err  # the allowed values are listed


@pytest.mark.slow
def test_nndescent_finds_a_tight_far_group_without_the_repair_it_checks_for(blobs):
    """The reason its repair is checked, not run (cellwak.graph.repair): NN-descent's random-projection
    start puts a tight group's cells together, where HNSW could leave them unreachable."""
    tight = (np.full((25, 12), 40.0) + np.random.default_rng(9).normal(scale=0.01, size=(25, 12))).astype(np.float32)
    X = np.vstack([blobs, tight])
    group = np.arange(len(blobs), len(X))
    knn = nndescent_knn(X, 10, seed=0, threads=1, repair=False)
    assert np.isin(knn.indices[group], group).all()             # each member lists members only, as exact lists do
    assert not np.isin(knn.indices[:len(blobs)], group).any()   # and nobody outside lists them
    checked = nndescent_knn(X, 10, seed=0, threads=1)
    assert checked.choice["repair"]["recall"] >= 0.98 and checked.choice["repair"]["repaired"] is False
    assert checked.repaired == 0


def test_the_lists_cut_to_k_do_not_keep_the_longer_lists_alive(monkeypatch):
    """descent_lists cuts lists of n_neighbors to k: as views the n x n_neighbors arrays would stay in
    memory through the graph and Leiden (0.5 GB at 1,000,000 cells and lists of 46)."""
    import pynndescent

    from cellwak.graph.descent import descent_lists

    X = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    exact = exact_knn(X, 30)
    wide_i = np.hstack([np.arange(200)[:, None], exact.indices])   # self first, as pynndescent lists it
    wide_d = np.hstack([np.zeros((200, 1), np.float32), exact.distances])

    class Fake:
        def __init__(self, data, n_neighbors, **kw):
            self.neighbor_graph = (wide_i[:, :n_neighbors], wide_d[:, :n_neighbors])

    monkeypatch.setattr(pynndescent, "NNDescent", Fake)
    idx, dist = descent_lists(X, 10, 31)
    np.testing.assert_array_equal(idx, exact.indices[:, :10])
    for a in (idx, dist):   # own memory of k columns (or a reshaped view of it), the 30-wide lists free to go
        assert a.base is None or a.base.nbytes == a.nbytes
