"""cellwak's Julia kernels (julia/src/CellWAK.jl) against independent numpy / scipy / igraph references.

Needs a julia executable (``bash julia/install_julia.sh``, or CELLWAK_JULIA); skips otherwise.
One Julia server process is shared by the whole module, so start-up and compilation are paid once.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp

from cellwak.backends import julia as jl
from cellwak.errors import CellwakError

pytestmark = pytest.mark.julia

EPS = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def jk():
    if jl.julia_executable() is None:
        pytest.skip("no julia executable: run `bash julia/install_julia.sh` or set CELLWAK_JULIA")
    with jl.JuliaKernels(mode="subprocess") as kernels:
        yield kernels


def blobs(n, d, centers, spread, seed):
    rng = np.random.default_rng(seed)
    mu = rng.normal(scale=spread, size=(centers, d))
    truth = rng.integers(centers, size=n)
    return mu[truth] + rng.normal(size=(n, d)), truth


def brute_knn(X, k):
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


def union_knn_graph(X, k):
    idx, _ = brute_knn(X, k)
    n = len(X)
    G = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, n))
    return ((G + G.T) > 0).astype(np.float64).tocsr()


def numpy_modularity(A, labels, gamma):
    A = np.asarray(A.todense()) if sp.issparse(A) else A
    k = A.sum(axis=1)
    two_w = A.sum()
    same = labels[:, None] == labels[None, :]
    return float(((A - gamma * np.outer(k, k) / two_w) * same).sum() / two_w)


def igraph_of(A):
    import igraph as ig

    upper = sp.triu(A, 1).tocoo()
    g = ig.Graph(n=A.shape[0], edges=np.column_stack([upper.row, upper.col]).tolist())
    g.es["weight"] = upper.data.tolist()
    return g


def test_no_julia_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(jl.ENV_JULIA, str(tmp_path / "no-such-julia"))
    with pytest.raises(jl.JuliaUnavailableError) as err:
        jl.JuliaKernels(mode="subprocess")
    assert isinstance(err.value, CellwakError)
    assert "install_julia.sh" in str(err.value)


@pytest.mark.slow  # 5 s: Julia compiles the kernels
def test_knn_exact_matches_brute_force(jk):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 7))
    ref_idx, ref_dist = brute_knn(X, 8)
    idx, dist = jk.knn_exact(X, 8, blocksize=37)
    assert idx.shape == (300, 8) and idx.dtype == np.int64
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10)
    idx32, dist32 = jk.knn_exact(X.astype(np.float32), 8)
    assert dist32.dtype == np.float32
    assert np.mean(idx32 == ref_idx) > 0.99          # float32 may swap near-ties


def test_knn_graph_is_the_union_of_neighbourhoods(jk):
    X = np.random.default_rng(1).normal(size=(120, 4))
    ref = union_knn_graph(X, 5)
    G = jk.knn_graph(X, 5, mode="union")
    assert (G != ref).nnz == 0
    directed = jk.knn_graph(X, 5, mode="directed")
    np.testing.assert_array_equal(np.asarray(directed.sum(axis=1)).ravel(), 5)
    assert directed.diagonal().sum() == 0


@pytest.mark.parametrize("norm", ["col", "row"])
def test_wak_matches_numpy(jk, norm):
    A = sp.random(80, 80, density=0.15, random_state=3, format="csr") + sp.eye(80)
    W = jk.wak(A, norm=norm).toarray()
    D = A.toarray()
    np.fill_diagonal(D, 0)
    axis = 0 if norm == "col" else 1
    s = D.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(W, D / (s + EPS), rtol=1e-12, atol=1e-15)
    assert np.all(np.diag(W) == 0)
    sums = W.sum(axis=axis)
    np.testing.assert_allclose(sums[s.ravel() > 0], 1, atol=1e-6)


def test_partition_and_pwak_match_numpy(jk):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 4, size=40)
    P = jk.partition_matrix(y).toarray()
    np.testing.assert_array_equal(P, (y[:, None] == y[None, :]).astype(float))
    C = rng.dirichlet(np.ones(3), size=25)                      # cells × clusters, rows sum to 1
    ref = C @ C.T
    np.fill_diagonal(ref, 0)
    ref = ref / (ref.sum(axis=0, keepdims=True) + EPS)
    np.testing.assert_allclose(jk.pwak(C), ref, rtol=1e-10)


@pytest.mark.parametrize("norm", ["col", "row"])
def test_noise2self_loss_matches_numpy(jk, norm):
    X, _ = blobs(150, 6, 3, 3.0, seed=5)
    A = union_knn_graph(X, 6)
    D = A.toarray()
    np.fill_diagonal(D, 0)
    W = D / (D.sum(axis=0 if norm == "col" else 1, keepdims=True) + EPS)
    ref = float(np.mean((W @ X - X) ** 2))                    # row i of the estimate: Σ_j W_ij x_j
    assert jk.noise2self_loss(X, A, norm=norm) == pytest.approx(ref, rel=1e-10)
    assert jk.noise2self_loss(X, sp.csr_matrix(W), apply_wak=False) == pytest.approx(ref, rel=1e-10)


def test_modularity_matches_numpy_and_igraph(jk):
    X, truth = blobs(200, 5, 4, 2.0, seed=6)
    A = union_knn_graph(X, 8)
    rng = np.random.default_rng(7)
    g = igraph_of(A)
    for labels in (truth, rng.integers(0, 5, size=200)):
        for gamma in (0.5, 1.0, 1.7):
            q = jk.modularity(A, labels, gamma)
            assert q == pytest.approx(numpy_modularity(A, labels, gamma), abs=1e-12)
            assert q == pytest.approx(g.modularity(labels.tolist(), weights="weight", resolution=gamma), abs=1e-9)
    W = A.multiply(rng.uniform(0.5, 2.0, size=A.shape))
    W = ((W + W.T) / 2).tocsr()                                 # weighted, symmetric
    assert jk.modularity(W, truth, 1.0) == pytest.approx(numpy_modularity(W, truth, 1.0), abs=1e-12)


def test_graph_kernels_reject_directed_graphs(jk):
    X = np.random.default_rng(8).normal(size=(60, 3))
    directed = jk.knn_graph(X, 4, mode="directed")
    with pytest.raises(jl.JuliaKernelError, match="undirected"):
        jk.leiden(directed)


def test_leiden_recovers_planted_blocks_and_is_seeded(jk):
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(9)
    sizes = [60, 50, 40, 30]
    truth = np.repeat(np.arange(4), sizes)
    prob = np.where(truth[:, None] == truth[None, :], 0.3, 0.01)
    upper = np.triu(rng.random(prob.shape) < prob, 1)
    A = sp.csr_matrix((upper | upper.T).astype(float))
    labels = jk.leiden(A, 1.0, seed=1)
    assert adjusted_rand_score(truth, labels) == 1.0
    np.testing.assert_array_equal(np.bincount(labels), sizes)   # 0-based, largest first
    np.testing.assert_array_equal(jk.leiden(A, 1.0, seed=1), labels)
    other = [jk.leiden(A, 1.0, seed=s) for s in (2, 3)]
    assert all(adjusted_rand_score(truth, o) == 1.0 for o in other)


@pytest.mark.slow  # 4 s: Julia Leiden on several graphs
def test_leiden_modularity_close_to_igraph(jk):
    import igraph as ig

    X, _ = blobs(3000, 10, 10, 1.0, seed=10)                  # overlapping blobs: a non-trivial graph
    A = union_knn_graph(X, 15)
    g = igraph_of(A)
    ig.set_random_number_generator(random.Random(0))
    try:
        ours = [numpy_modularity(A, jk.leiden(A, 1.0, seed=s), 1.0) for s in range(3)]
        theirs = [g.modularity(g.community_leiden(objective_function="modularity", weights="weight",
                                                  resolution=1.0, beta=0.01, n_iterations=2).membership,
                               weights="weight") for _ in range(3)]
    finally:
        ig.set_random_number_generator(random)
    assert np.mean(ours) >= 0.99 * np.mean(theirs), (ours, theirs)
    assert min(ours) >= 0.98 * max(theirs), (ours, theirs)
    sweep = jk.leiden_sweep(A, [0.3, 1.0, 3.0], seed=0)
    assert [int(s.max()) for s in sweep] == sorted(int(s.max()) for s in sweep)
