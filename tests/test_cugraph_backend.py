"""``--backend cugraph``: refused in one line where RAPIDS cuGraph is missing (every CI machine), and
the adapter's handling of cuGraph's answer, checked against a stand-in for cuDF/cuGraph.

The stand-in implements the few calls cellwak makes (``cudf.DataFrame``, ``cugraph.Graph``,
``from_cudf_edgelist``, ``cugraph.leiden``) on the CPU with pandas and igraph, and answers the
way cuGraph documents it: a table of (vertex, partition) rows in no particular order, with
vertices that have no edges left out. It tests cellwak's side (edges sent, vertex ids mapped back,
arguments passed, isolated cells), not cuGraph; the real library is measured only where a GPU
machine with RAPIDS is lent (benchmarks/bench_scale.py gpu).
"""

from __future__ import annotations

import random
import sys
import types

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellwak.datasets import blobs
from cellwak.graph import exact_knn, knn_graph
from cellwak.graph.leiden import leiden
from conftest import snapshot


@pytest.fixture
def fake_cugraph(monkeypatch):
    calls = []

    class Graph:
        def __init__(self, directed=False):
            assert directed is False
            self.edges = None

        def from_cudf_edgelist(self, df, source, destination, edge_attr=None, renumber=True):
            assert renumber is False  # cellwak's vertex ids must come back as they went
            self.edges = (df[source].to_numpy(), df[destination].to_numpy(), df[edge_attr].to_numpy())

    def leiden_(graph, max_iter=100, resolution=1.0, random_state=None, theta=1.0):
        import igraph

        src, dst, w = graph.edges
        calls.append({"max_iter": max_iter, "resolution": resolution, "random_state": random_state,
                      "edges": len(src), "weights": w.copy()})
        present = np.unique(np.concatenate([src, dst]))
        g = igraph.Graph(n=int(present.max()) + 1, edges=np.column_stack([src, dst]).tolist())
        igraph.set_random_number_generator(random.Random(random_state))
        try:
            membership = np.asarray(g.community_leiden(objective_function="modularity", weights=w.tolist(),
                                                       resolution=resolution, n_iterations=-1).membership)
        finally:
            igraph.set_random_number_generator(random)
        order = np.random.default_rng(0).permutation(present)  # rows in no particular order
        parts = pd.DataFrame({"vertex": order, "partition": membership[order] + 7})  # ids need not start at 0
        return parts, 0.5

    # Series: a class nothing is an instance of (libraries that look for cuDF in sys.modules check it)
    monkeypatch.setitem(sys.modules, "cudf", types.SimpleNamespace(DataFrame=pd.DataFrame, Series=type("Series", (), {})))
    monkeypatch.setitem(sys.modules, "cugraph", types.SimpleNamespace(Graph=Graph, leiden=leiden_, __version__="stand-in"))
    return calls


def test_cugraph_leiden_maps_cugraphs_vertices_back_to_the_cells(fake_cugraph):
    from sklearn.metrics import adjusted_rand_score

    a = blobs(600, 8, 4, seed=3)
    G = knn_graph(exact_knn(a.X, 12))
    G = sp.block_diag([G, sp.csr_matrix((2, 2))], format="csr")  # two cells with no edges, at the end
    labels = leiden(G, 0.8, seed=5, backend="cugraph")
    assert labels.shape == (602,)
    assert adjusted_rand_score(a.obs["label"], labels[:600]) == pytest.approx(1.0)
    assert len({labels[600], labels[601]} | set(labels[:600])) == 6  # each edgeless cell its own cluster
    sizes = np.bincount(labels)
    assert np.all(np.diff(sizes) <= 0)  # renumbered by size, 0 the largest, as every backend
    call = fake_cugraph[-1]
    assert call["resolution"] == 0.8 and call["random_state"] == 5 and call["max_iter"] == 100
    assert call["edges"] == sp.triu(G, k=1).nnz and np.all(call["weights"] == 1)


def test_cugraph_leiden_sends_weights_and_caps_levels_when_asked(fake_cugraph):
    a = blobs(300, 6, 3, seed=1)
    G = knn_graph(exact_knn(a.X, 10)).astype(np.float32)
    G.data = np.linspace(0.5, 2.0, G.nnz).astype(np.float32)
    G = ((G + G.T) / 2).tocsr()
    leiden(G, 1.0, seed=0, backend="cugraph", weighted=True, n_iterations=3)
    call = fake_cugraph[-1]
    assert call["max_iter"] == 3
    assert np.allclose(np.sort(call["weights"]), np.sort(sp.triu(G, k=1).tocoo().data))


def test_cluster_gamma_auto_runs_every_leiden_of_the_sweep_through_cugraph(fake_cugraph):
    from cellwak.tl import cluster

    a = blobs(400, 8, 4, seed=4)
    res = cluster(a, gamma="auto", backend="cugraph", subsamples=2, seed=0)
    assert res.params["backend"] == "cugraph" and res.params["cugraph_version"] == "stand-in"
    assert len(fake_cugraph) >= 30 * 3  # 30 resolutions x (the graph + 2 subsamples), all on "the GPU"
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(a.obs["label"], res.labels) > 0.9


@pytest.mark.parametrize("args", [["cluster", "--gamma", "1.0", "--backend", "cugraph"],
                                  ["cluster", "--gamma", "auto", "--backend", "cugraph"],
                                  ["sweep", "--backend", "cugraph"]])
def test_backend_cugraph_without_cugraph_is_refused_in_one_line(cli, home, populated, args, monkeypatch):
    monkeypatch.setitem(sys.modules, "cugraph", None)  # import fails, as on every machine without RAPIDS
    r = cli(*args, "--dataset", "cells")
    assert r.code == 2
    lines = [line for line in r.err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "cuGraph" in lines[0] and "not installed" in lines[0], r.err
    assert "Traceback" not in r.err
    assert snapshot(home) == populated
