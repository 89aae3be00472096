"""The DeePWAK kernel algebra: invariants from shared/methods/deepwak.md 1.10."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cellwak.graph import kernels as K
from cellwak.graph.build import knn_graph
from cellwak.graph.knn import exact_knn


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    knn = exact_knn(X.astype(np.float32), 8)
    S = K.inverse_distance(sp.csr_matrix((knn.distances.ravel(), knn.indices.ravel(),
                                          np.arange(0, 120 * 8 + 1, 8)), shape=(120, 120)))
    labels = rng.integers(0, 4, size=120)
    return X, S, labels


def test_wak_zero_diagonal_and_unit_sums(data):
    X, S, _ = data
    A = S + sp.eye(120) * 5.0  # a diagonal that WAK must remove
    col = K.wak(A, "col")
    assert np.allclose(col.diagonal(), 0)
    sums = np.asarray(col.sum(axis=0)).ravel()
    listed = np.asarray((S != 0).sum(axis=0)).ravel() > 0   # cells nobody lists have empty columns
    np.testing.assert_allclose(sums[listed], 1.0, rtol=1e-5)
    assert (sums[~listed] == 0).all()
    row = K.wak(A, "row")
    np.testing.assert_allclose(np.asarray(row.sum(axis=1)).ravel(), 1.0, rtol=1e-12)
    dense = K.wak(A.toarray(), "col")
    np.testing.assert_allclose(dense, col.toarray(), rtol=1e-12)


def test_pwak_of_one_hot_is_the_block_partition_kernel(data):
    _, _, labels = data
    C = K.one_hot(labels)
    np.testing.assert_allclose(K.pwak_dense(C), K.wak(K.partition_matrix(labels), "col").toarray(), atol=1e-12)
    # hard partitions: column and row normalisation coincide
    np.testing.assert_allclose(K.pwak_dense(C, "col"), K.pwak_dense(C, "row"), atol=1e-6)


@pytest.mark.parametrize("norm", ["col", "row"])
def test_pwak_apply_equals_the_dense_kernel(data, norm):
    X, _, _ = data
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(120, 5))
    C = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(K.pwak_apply(C, X, norm), K.pwak_dense(C, norm) @ X, rtol=1e-9, atol=1e-12)


def test_j_invariance_prediction_ignores_the_cell_itself(data):
    X, S, _ = data
    W = K.wak(S, "col")
    moved = X.copy()
    moved[7] += 100.0
    np.testing.assert_allclose((W @ moved)[7], (W @ X)[7])


def test_noise2self_loss_and_diffusion(data):
    X, S, _ = data
    W = K.wak(S, "row")
    assert K.noise2self_loss(X, W) == pytest.approx(np.mean((X - W @ X) ** 2))
    series = K.diffusion_series(W, X, 3)
    np.testing.assert_allclose(series[2], W @ (W @ (W @ X)))
    assert K.noise2self_loss(X, W, steps=2) == pytest.approx(np.mean((X - series[1]) ** 2))


def test_modularity_matches_igraph_and_rb_is_modularity_at_half_gamma(data):
    import igraph

    X, _, labels = data
    G = knn_graph(exact_knn(X.astype(np.float32), 8))
    up = sp.triu(G, 1).tocoo()
    g = igraph.Graph(n=120, edges=list(zip(up.row.tolist(), up.col.tolist())))
    for gamma in (0.5, 1.0, 2.0):
        assert K.modularity(G, labels, gamma) == pytest.approx(g.modularity(labels.tolist(), resolution=gamma))
        assert K.rbpm(G, K.partition_matrix(labels), gamma) / G.sum() == pytest.approx(K.modularity(G, labels, gamma / 2))
    # soft modularity of a one-hot C is the hard modularity
    assert K.soft_modularity(G, K.one_hot(labels).toarray(), 1.0) == pytest.approx(K.modularity(G, labels, 1.0))


def test_cpm_and_softmod_v1_follow_their_formulas(data):
    X, _, labels = data
    G = knn_graph(exact_knn(X.astype(np.float32), 8)).toarray()
    P = K.partition_matrix(labels).toarray()
    assert K.cpm(G, P, 0.1) == pytest.approx(-((G - 0.1) * P).sum())
    e, k_ = (P @ G.T).sum(1), (P @ G).sum(1)
    mu = e.mean()
    assert K.softmod_v1(G, P, 1.0) == pytest.approx(np.sum(e - k_ ** 2 / (2 * mu)) / (2 * mu))


def test_restrict_to_partition_keeps_only_within_cluster_edges(data):
    X, S, labels = data
    R = K.restrict_to_partition(S, labels).tocoo()
    assert (labels[R.row] == labels[R.col]).all()
    assert R.nnz == int((labels[S.tocoo().row] == labels[S.tocoo().col]).sum())
