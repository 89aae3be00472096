"""kNN, graph, Leiden and the cluster tool."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cellwak.datasets import blobs
from cellwak.graph import exact_knn, knn_graph
from cellwak.graph.leiden import leiden
from cellwak.tl import cluster


def test_exact_knn_matches_brute_force_and_excludes_self():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 7)).astype(np.float32)
    knn = exact_knn(X, 10, block_rows=37)  # blocks that do not divide n
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    expected = np.argsort(D, axis=1)[:, :10]
    np.testing.assert_array_equal(knn.indices, expected)
    np.testing.assert_allclose(knn.distances, np.take_along_axis(D, expected, 1), rtol=1e-5)
    assert not (knn.indices == np.arange(300)[:, None]).any()


def test_knn_graph_is_symmetric_binary_union():
    X = np.random.default_rng(2).normal(size=(100, 3)).astype(np.float32)
    knn = exact_knn(X, 5)
    G = knn_graph(knn)
    assert (G != G.T).nnz == 0 and set(np.unique(G.data)) == {1.0}
    assert G.diagonal().sum() == 0
    assert (G.sum(axis=1).A1 >= 5).all()


def test_leiden_same_seed_same_labels_and_recovers_blobs():
    a = blobs(600, 10, 4, seed=3)
    g = knn_graph(exact_knn(a.X, 15))
    first = leiden(g, 1.0, seed=7)
    assert np.array_equal(first, leiden(g, 1.0, seed=7))
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(a.obs["label"], first) == pytest.approx(1.0)
    sizes = np.bincount(first)
    assert list(sizes) == sorted(sizes, reverse=True)  # cluster 0 is the largest


def test_cluster_writes_scverse_keys_and_provenance():
    a = blobs(400, 20, 3, seed=1)
    res = cluster(a, gamma=0.5, k=10, seed=0, n_pcs=5)
    assert res.metrics["ari"] == pytest.approx(1.0) and res.n_clusters == 3
    assert a.obs["cellwak_leiden"].dtype == "category"
    assert a.obsp["cellwak_connectivities"].shape == (400, 400)
    assert a.obsp["cellwak_distances"].nnz == 400 * 10
    assert a.obsm["X_cellwak_pca"].shape == (400, 5) and "X_pca" not in a.obsm  # cellwak's own PCA key
    assert a.uns["cellwak_neighbors"]["params"]["use_rep"] == "X_cellwak_pca"
    prov = a.uns["cellwak"]["leiden"]
    assert prov["seed"] == 0 and prov["params"]["gamma"] == 0.5
    assert {"torch", "igraph", "numpy"} <= set(prov["versions"]) and prov["torch_threads"] >= 1
    assert prov["device"] == "cpu"


def test_cluster_cli_on_builtin_blood(cli):
    t = time.perf_counter()
    r = cli("cluster", "--gamma", "1.0", "--json")
    elapsed = time.perf_counter() - t
    assert r.code == 0, r.err
    out = r.json()
    assert out["dataset"] == "blood" and out["gamma"] == 1.0
    assert out["n_clusters"] == len(out["sizes"]) >= 4 and sum(out["sizes"]) == 2400
    assert 0.2 < out["metrics"]["ari"] < 1 and 0.3 < out["metrics"]["nmi"] < 1
    assert elapsed < 30
    again = cli("cluster", "--gamma", "1.0", "--json").json()
    assert again["sizes"] == out["sizes"] and again["metrics"] == out["metrics"]  # seeded
    show = cli("data", "show", "blood", "--json").json()
    assert [c["id"] for c in show["clusterings"]] == [out["clustering_id"], again["clustering_id"]]
    assert "X_cellwak_pca" in show["representations"]


def test_cluster_human_output_lists_clusters_and_scores(cli):
    r = cli("cluster", "--gamma", "0.5")
    assert r.code == 0
    assert "clusters at gamma=0.5" in r.out and "ARI" in r.out and "NMI" in r.out


@pytest.mark.parametrize("large", [True, False])
def test_until_stable_leiden_stops_at_the_first_iteration_that_gains_less_than_the_tolerance(large, monkeypatch):
    import random

    import igraph

    from cellwak.graph import leiden as leiden_module
    from cellwak.graph.leiden import relabel_by_size, to_igraph

    # this graph counts as large (the tolerance applies) or small (iterate while there is any gain)
    monkeypatch.setattr(leiden_module, "TOLERANCE_FROM_EDGES", 1 if large else 10**9)
    TOLERANCE = leiden_module.TOLERANCE if large else 0.0

    a = blobs(3000, 8, 12, seed=5, spread=4.0)  # overlapping blobs: iterations keep gaining a little
    G = knn_graph(exact_knn(a.X, 15))
    g = to_igraph(G, weighted=False)
    labels = leiden(G, 2.0, seed=1, n_iterations=-1, graph=g)
    assert np.array_equal(labels, leiden(G, 2.0, seed=1, n_iterations=-1, graph=g))  # seeded
    # Replay by hand with the same random stream: gains per iteration, and where the policy must stop.
    igraph.set_random_number_generator(random.Random(1))
    try:
        m = g.community_leiden(objective_function="modularity", resolution=2.0, n_iterations=1).membership
        q, gains = g.modularity(m, resolution=2.0), []
        for _ in range(leiden_module.MAX_ITERATIONS - 1):
            nxt = g.community_leiden(objective_function="modularity", resolution=2.0, n_iterations=1,
                                     initial_membership=m).membership
            gain = g.modularity(nxt, resolution=2.0) - q
            gains.append(gain)
            if gain <= 1e-12:
                break
            m, q = nxt, q + gain
            if gain <= TOLERANCE * abs(q):
                break
    finally:
        igraph.set_random_number_generator(random)
    assert np.array_equal(labels, relabel_by_size(m))
    assert all(gain > 0 for gain in gains[:-1]) and gains[-1] <= TOLERANCE * abs(q)
    assert 2 <= len(gains) and len(gains) + 1 < leiden_module.MAX_ITERATIONS  # went on once, stopped by the rule
    if large:
        assert gains[-1] > 0  # stopped by a small gain (kept), not by no gain: the tolerance did it


@pytest.mark.parametrize("backend,objective,gamma", [("igraph", "cpm", 0.05), ("leidenalg", "modularity", 1.0),
                                                     ("leidenalg", "rber", 1.0), ("leidenalg", "surprise", 1.0),
                                                     ("julia", "modularity", 1.0)])
def test_every_backend_same_graph_and_seed_same_labels(backend, objective, gamma):
    if backend == "julia":
        from cellwak.backends.julia import julia_executable

        if julia_executable() is None:
            pytest.skip("no julia executable (run `make julia`)")
    a = blobs(800, 8, 4, seed=2)
    g = knn_graph(exact_knn(a.X, 12))
    first = leiden(g, gamma, seed=11, backend=backend, objective=objective)
    assert np.array_equal(first, leiden(g, gamma, seed=11, backend=backend, objective=objective))
    if objective in ("modularity", "rber"):
        from sklearn.metrics import adjusted_rand_score

        assert adjusted_rand_score(a.obs["label"], first) == pytest.approx(1.0)


def test_a_low_knn_recall_is_reported_as_a_warning_with_the_way_out(cli, populated, monkeypatch):
    import cellwak.graph.approx as approx_mod
    import cellwak.graph.repair as repair_mod
    from cellwak.tl._leiden import recall_warnings

    # every beam finds 0.80 (the widening stalls), and so does the sample after the repair
    monkeypatch.setattr(approx_mod, "recall", lambda approx, exact: 0.8)
    monkeypatch.setattr(repair_mod, "recall", lambda approx, exact: 0.8)
    out = cli("--json", "cluster", "-d", "cells", "--gamma", "1.0", "--knn", "hnsw").json()
    assert out["params"]["knn_recall"] == 0.8
    assert any("found only 0.80" in w and "--knn exact" in w for w in out["warnings"]), out["warnings"]
    human = cli("cluster", "-d", "cells", "--gamma", "1.0", "--knn", "hnsw")
    assert human.code == 0 and "warning:" in human.out and "0.80" in human.out
    ctx = type("Ctx", (), {})()
    for got, warned in ((0.97, False), (None, False), (0.949, True)):
        ctx.params = {"knn": "hnsw", "k": 15, "knn_recall": got}
        assert bool(recall_warnings(ctx)) is warned
