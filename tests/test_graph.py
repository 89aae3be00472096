"""kNN search (exact, approximate, automatic) and graph construction."""

from __future__ import annotations

import numpy as np
import pytest

from cellwak.graph.build import build_graph, directed_knn_matrix, umap_weights
from cellwak.graph.knn import EXACT_MAX_CPU, exact_knn, kdtree_knn, neighbors, recall, resolve_method


@pytest.fixture(scope="module")
def mixture():
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 5, size=(6, 16))
    labels = rng.integers(0, 6, size=4000)
    return (centers[labels] + rng.normal(size=(4000, 16))).astype(np.float32)


def test_hnsw_recall_at_default_settings(mixture):
    exact = exact_knn(mixture, 15)
    approx = neighbors(mixture, 15, method="hnsw")
    assert recall(approx, exact) >= 0.95
    assert not (approx.indices == np.arange(len(mixture))[:, None]).any()
    assert (np.diff(approx.distances, axis=1) >= -1e-5).all()  # nearest first


@pytest.fixture(scope="module")
def noise32():  # no structure in 32 dims: a light HNSW graph with a narrow beam misses many neighbours
    return np.random.default_rng(0).normal(size=(3000, 32)).astype(np.float32)


def test_an_hnsw_search_short_of_the_recall_floor_searches_again_with_a_wider_beam(noise32):
    from cellwak.graph.approx import hnsw_knn

    exact = exact_knn(noise32, 15)
    plain = hnsw_knn(noise32, 15, M=8, ef_construction=32, ef=16, build_threads=1, repair=False)
    floored = hnsw_knn(noise32, 15, M=8, ef_construction=32, ef=16, build_threads=1, repair=False, min_recall=0.95)
    beams = floored.choice["beams"]
    assert recall(plain, exact) < 0.9 and beams[0]["recall"] < 0.9  # the first beam falls short
    assert [b["ef"] for b in beams] == [16 * 2 ** i for i in range(len(beams))]
    assert beams[-1]["recall"] >= 0.95 and all(b["recall"] < 0.95 for b in beams[:-1])  # widened until it holds
    assert recall(floored, exact) >= 0.95
    assert floored.recall == pytest.approx(recall(floored, exact), abs=0.02)  # the sample's estimate is kept
    once = hnsw_knn(noise32, 15, M=8, ef_construction=32, ef=beams[-1]["ef"], build_threads=1, repair=False)
    assert np.array_equal(once.indices, floored.indices)  # every cell searched once, with the beam the sample chose


def test_the_recall_floor_stops_at_the_widest_beam(noise32):
    from cellwak.graph.approx import hnsw_knn

    knn = hnsw_knn(noise32, 15, M=8, ef_construction=32, ef=16, build_threads=1, repair=False, min_recall=0.999,
                   max_ef=64)
    assert [b["ef"] for b in knn.choice["beams"]] == [16, 32, 64]
    assert knn.recall < 0.999


def test_the_recall_floor_stops_widening_once_a_doubled_beam_gains_almost_nothing(noise32, monkeypatch):
    import cellwak.graph.approx as approx_mod

    found = iter([0.90, 0.93, 0.933, 0.99, 0.99, 0.99])  # the third beam gains 0.003: the graph limits recall
    monkeypatch.setattr(approx_mod, "recall", lambda approx, exact: next(found))
    monkeypatch.setattr("cellwak.graph.repair.recall", lambda approx, exact: next(found))  # the final estimate
    knn = approx_mod.hnsw_knn(noise32, 15, M=8, ef_construction=32, ef=16, build_threads=1, repair=False,
                              min_recall=0.95)
    assert [b["ef"] for b in knn.choice["beams"]] == [16, 32, 64]
    assert knn.recall == 0.99  # the next value: the final estimate, not a fourth beam


def test_auto_method_switches_by_size_and_device():
    assert resolve_method(1000) == "exact"
    assert resolve_method(EXACT_MAX_CPU + 1) == "hnsw"
    assert resolve_method(10**7, device="cuda") == "exact"
    with pytest.raises(ValueError):
        resolve_method(10, "annoy")


def test_prefix_of_a_larger_search_is_the_smaller_search(mixture):
    big, small = exact_knn(mixture, 30), exact_knn(mixture, 10)
    np.testing.assert_array_equal(big.prefix(10).indices, small.indices)


@pytest.mark.parametrize("weights", ["binary", "inverse", "umap", "gaussian", "jaccard"])
def test_graphs_are_symmetric_nonnegative_without_self_loops(mixture, weights):
    G = build_graph(exact_knn(mixture[:800], 10), weights=weights)
    assert abs(G - G.T).max() < 1e-6
    assert G.min() >= 0 and G.diagonal().sum() == 0


def test_mutual_is_a_subgraph_of_union(mixture):
    kn = exact_knn(mixture[:800], 10)
    union, mutual = build_graph(kn, symmetrize_how="union"), build_graph(kn, symmetrize_how="mutual")
    assert mutual.nnz < union.nnz and (mutual.multiply(union) != mutual).nnz == 0


def test_umap_memberships_sum_to_log2_k(mixture):
    kn = exact_knn(mixture[:500], 12)
    w = umap_weights(kn.distances)
    np.testing.assert_allclose(w.sum(axis=1), np.log2(12), rtol=1e-3)
    assert np.allclose(w[:, 0], 1.0)  # nearest neighbour has membership 1


def test_jaccard_weight_is_the_shared_neighbour_fraction(mixture):
    kn = exact_knn(mixture[:600], 8)
    W = directed_knn_matrix(kn)
    G = build_graph(kn, weights="jaccard", symmetrize_how="mutual").tocoo()
    for i, j, w in list(zip(G.row, G.col, G.data))[:50]:
        a, b = set(kn.indices[i]), set(kn.indices[j])
        assert w == pytest.approx(len(a & b) / len(a | b), abs=1e-6)
    assert W.nnz == 600 * 8


def test_exact_search_of_some_rows_equals_those_rows_of_the_full_search(mixture):
    rows = np.array([5, 17, 999, 3998])
    full, part = exact_knn(mixture, 9), exact_knn(mixture, 9, rows=rows, block_rows=3)
    np.testing.assert_array_equal(part.indices, full.indices[rows])
    np.testing.assert_allclose(part.distances, full.distances[rows])



def test_kdtree_search_is_exact(mixture):
    exact, tree = exact_knn(mixture, 15), kdtree_knn(mixture, 15)
    np.testing.assert_allclose(tree.distances, exact.distances, rtol=1e-5, atol=1e-5)
    assert recall(tree, exact) > 0.999  # equal lists, up to the order of exact ties
    assert tree.method == "kdtree" and tree.recall == 1.0
    assert not (tree.indices == np.arange(len(mixture))[:, None]).any()


def test_kdtree_with_duplicate_cells_drops_one_entry_per_cell():
    X = np.repeat(np.arange(40, dtype=np.float32).reshape(20, 2), 3, axis=0)  # every cell three times
    knn = kdtree_knn(X, 4)
    assert knn.indices.shape == (60, 4)
    assert (knn.distances[:, :2] == 0).all()  # its two copies come first
    assert not (knn.indices == np.arange(60)[:, None]).any()


def test_auto_picks_the_tree_on_low_dimensional_data_and_says_why(monkeypatch):
    import cellwak.graph.choose as choose_mod

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(6000, 4)) + rng.integers(0, 5, size=(6000, 1)) * 8).astype(np.float32)
    knn = neighbors(X, 10)
    assert knn.method == "kdtree" and knn.recall == 1.0
    assert knn.choice["projected_seconds"]["kdtree"] > 0 and "k-d tree" in knn.choice["rule"]
    np.testing.assert_allclose(knn.distances, exact_knn(X, 10).distances, rtol=1e-5, atol=1e-5)


def test_auto_picks_hnsw_when_the_others_are_projected_slower_and_estimates_its_recall(monkeypatch, mixture):
    import cellwak.graph.choose as choose_mod

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    monkeypatch.setattr(choose_mod, "TREE_SURE_SECONDS", 0.0)
    monkeypatch.setattr(choose_mod, "HNSW_PROBE", 2000)
    monkeypatch.setattr(choose_mod, "_probe_tree", lambda X, k, rng, threads, share: (None, 1e9, {"forced": True}))
    monkeypatch.setattr(choose_mod, "_probe_descent", lambda *a: (1e9, {"forced": True, "params": {}}))
    monkeypatch.setattr(choose_mod, "_probe_ivf", lambda *a, **kw: (1e9, {"forced": True}, None))
    knn = neighbors(mixture, 15)
    assert knn.method == "hnsw"
    assert knn.choice["projected_seconds"]["hnsw"] < knn.choice["projected_seconds"]["kdtree"]
    assert knn.choice["projected_seconds"]["hnsw"] < knn.choice["projected_seconds"].get("nndescent", float("inf"))
    assert knn.recall == pytest.approx(recall(knn, exact_knn(mixture, 15)), abs=0.03)
    assert knn.recall >= 0.95
    tried = knn.choice["probe"]["hnsw"]["tried"]  # the lightest graph reaching the probe's recall is used
    assert all(t["recall"] < choose_mod.LIGHT_RECALL for t in tried[:-1])
    assert tried[-1]["recall"] >= choose_mod.LIGHT_RECALL or len(tried) == len(choose_mod.HNSW_LADDER)
    assert knn.choice["probe"]["hnsw"]["params"] == {"M": tried[-1]["M"], "ef_construction": tried[-1]["ef_construction"]}


def test_queries_shared_by_dask_workers_make_the_tree_win_where_it_loses_alone(monkeypatch):
    """With many worker threads to answer the queries, the tree's query time is divided among them
    (its build stays here) and it beats HNSW, whose index is built here; alone, HNSW wins."""
    import cellwak.graph.choose as choose_mod

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    monkeypatch.setattr(choose_mod, "TREE_SURE_SECONDS", 0.0)
    monkeypatch.setattr(choose_mod, "HNSW_PROBE", 2000)
    monkeypatch.setattr(choose_mod, "TREE_PROBE", 400)
    monkeypatch.setattr(choose_mod, "_probe_ivf", lambda *a, **kw: (1e9, {"forced": True}, None))
    X = np.random.default_rng(2).normal(size=(20_000, 32)).astype(np.float32)  # 32 independent dims: a slow tree
    alone = choose_mod.choose(X, 15, threads=2)
    assert alone.method == "hnsw" and "queries" not in alone.evidence
    shared = choose_mod.choose(X, 15, threads=2, remote_threads=100_000)
    assert shared.method == "kdtree" and "100000 Dask worker threads" in shared.evidence["queries"]
    tree = shared.evidence["probe"]["kdtree"]
    assert shared.evidence["projected_seconds"]["kdtree"] == pytest.approx(
        tree["build_seconds"] + tree["query_seconds"] / tree["queries"] * 20_000 * 2 / 100_000, abs=0.01)
    tried = shared.evidence["probe"]["hnsw"]["tried"][-1]
    assert 0 < tried["index_seconds"] < tried["seconds"]  # the build, projected apart from the search
    assert choose_mod.query_share(2, 16) == 0.125 and choose_mod.query_share(2, None) == 1.0


def test_an_explicit_method_is_not_probed(mixture):
    knn = neighbors(mixture, 5, method="kdtree")
    assert knn.method == "kdtree" and knn.choice == {"rule": "as asked"}
    with pytest.raises(ValueError, match="unknown kNN method"):
        neighbors(mixture, 5, method="annoy")


def test_a_hopeless_tree_is_probed_with_a_tenth_of_the_queries(monkeypatch, mixture):
    import cellwak.graph.choose as choose_mod

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    monkeypatch.setattr(choose_mod, "TREE_SURE_SECONDS", 0.0)
    monkeypatch.setattr(choose_mod, "TREE_HOPELESS_SECONDS", 0.0)
    picked = choose_mod.choose(mixture, 15)
    assert picked.evidence["probe"]["kdtree"]["queries"] == choose_mod.TREE_PROBE // 10
    monkeypatch.setattr(choose_mod, "TREE_HOPELESS_SECONDS", 1e9)
    assert choose_mod.choose(mixture, 15).evidence["probe"]["kdtree"]["queries"] == choose_mod.TREE_PROBE


def test_a_probed_choice_is_saved_with_the_clustering(tmp_path, monkeypatch):
    """The probe's evidence (a list of tries) goes into the dataset file's provenance (.h5ad
    cannot hold a list of dicts as such) and into the catalog row."""
    import cellwak.graph.choose as choose_mod
    from cellwak import api

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    monkeypatch.setattr(choose_mod, "TREE_SURE_SECONDS", 0.0)
    monkeypatch.setattr(choose_mod, "HNSW_PROBE", 2000)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6)) + rng.integers(0, 4, size=(3000, 1)) * 5
    csv = tmp_path / "cells.csv"
    np.savetxt(csv, X, delimiter=",", header=",".join(f"f{i}" for i in range(6)), comments="")
    home = tmp_path / "home"
    api.add_dataset(home, csv, name="cells")
    out = api.cluster(home, "cells", api.ClusterConfig(gamma=1.0))
    assert out.params["knn"] in ("kdtree", "ivf", "nndescent", "hnsw") and out.params["knn_recall"] > 0.95
    assert out.params["knn_choice"]["probe"]["hnsw"]["tried"]
    shown = api.show_clustering(home, out.clustering_id)
    assert shown["params"]["knn_choice"]["probe"]["hnsw"]["tried"] == out.params["knn_choice"]["probe"]["hnsw"]["tried"]


def test_igraph_graph_holds_every_upper_triangle_edge_in_order_with_its_weight(mixture):
    import scipy.sparse as sp

    from cellwak.graph.build import knn_graph
    from cellwak.graph.leiden import _edge_pairs, to_igraph

    G = knn_graph(exact_knn(mixture[:500], 10))
    W = G.multiply(sp.random(500, 500, density=1.0, random_state=0, format="csr"))
    W = W + W.T
    upper = sp.triu(W, k=1).tocoo()
    g = to_igraph(W, weighted=True)
    assert g.vcount() == 500 and not g.is_directed()
    assert g.get_edgelist() == list(zip(upper.row.tolist(), upper.col.tolist()))
    assert np.allclose(g.es["weight"], upper.data)
    assert list(_edge_pairs(upper.row, upper.col, chunk=7)) == g.get_edgelist()  # across chunk boundaries
