"""cw.pp.KNNTransformer: cellwak's kNN search inside scanpy's (and scikit-learn's) transformer API."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

import cellwak as cw
from cellwak.errors import InputError


def blobs(n=2_000, d=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, size=(4, d))
    truth = rng.integers(0, 4, n)
    return (centres[truth] + rng.normal(size=(n, d))).astype(np.float32), truth


def test_fit_transform_gives_each_cells_exact_nearest_other_cells_nearest_first():
    X, _ = blobs()
    D = cw.pp.KNNTransformer(n_neighbors=11).fit_transform(X)
    assert isinstance(D, sp.csr_matrix) and D.shape == (len(X), len(X))   # not csr_array: scanpy 1.11 needs getnnz
    assert np.all(D.getnnz(axis=1) == 10)
    dist, idx = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
    got = D.indices.reshape(len(X), 10)
    assert np.mean([set(a) == set(b[1:]) for a, b in zip(got, idx)]) > 0.99   # ties aside, the same cells
    rows = D.data.reshape(len(X), 10)
    assert np.all(np.diff(rows, axis=1) >= 0)                                  # nearest first
    np.testing.assert_allclose(rows[:, 0], dist[:, 1], rtol=1e-4, atol=1e-4)   # Euclidean, not squared


def test_fitted_attributes_report_the_search_and_its_recall():
    X, _ = blobs()
    t = cw.pp.KNNTransformer(n_neighbors=16, method="hnsw").fit(X)
    assert t.method_ == "hnsw" and 0.95 <= t.recall_ <= 1.0 and t.n_samples_fit_ == len(X)
    exact = cw.pp.KNNTransformer(n_neighbors=16).fit(X)
    assert exact.method_ == "exact" and exact.recall_ == 1.0


def test_sklearn_contract_params_clone_and_transform_of_the_fitted_cells():
    X, _ = blobs(500)
    t = cw.pp.KNNTransformer(n_neighbors=7, random_state=3)
    assert t.get_params()["n_neighbors"] == 7            # what scanpy reads
    assert clone(t).get_params() == t.get_params()
    with pytest.raises(NotFittedError):
        t.transform(X)
    D = t.fit_transform(X)
    assert (t.transform(X) != D).nnz == 0


def test_cosine_metric_orders_neighbours_by_angle():
    X, _ = blobs(400)
    D = cw.pp.KNNTransformer(n_neighbors=6, metric="cosine").fit_transform(X)
    _, idx = NearestNeighbors(n_neighbors=6, metric="cosine").fit(X).kneighbors(X)
    got = D.indices.reshape(len(X), 5)
    assert np.mean([set(a) == set(b[1:]) for a, b in zip(got, idx)]) > 0.99


@pytest.mark.parametrize("X, kwargs, message", [
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), {"n_neighbors": 2}, "NaN"),
    (np.zeros((5, 2)) + np.arange(5)[:, None], {"n_neighbors": 1}, "counts the cell itself"),
    (np.zeros((5, 2)) + np.arange(5)[:, None], {"n_neighbors": 6}, "from 2 to 5"),
    (np.zeros((5, 2)) + np.arange(5)[:, None], {"method": "annoy"}, "unknown method"),
    (np.zeros((5, 2)) + np.arange(5)[:, None], {"metric": "manhattan"}, "unknown metric"),
    (sp.random(5, 3, density=0.5, format="csr", random_state=0), {"n_neighbors": 2}, "dense matrix"),
    (np.arange(5.0), {"n_neighbors": 2}, "2-D"),
])
def test_bad_input_is_refused_with_one_line(X, kwargs, message):
    with pytest.raises(InputError, match=message):
        cw.pp.KNNTransformer(**kwargs).fit(X)


def test_transform_of_other_cells_is_refused_not_answered_wrongly():
    X, _ = blobs(300)
    t = cw.pp.KNNTransformer(n_neighbors=5).fit(X)
    with pytest.raises(InputError, match="only the cells it was fitted on"):
        t.transform(X[::-1])
    with pytest.raises(InputError, match="only the cells it was fitted on"):
        t.transform(X[:200])


# scanpy itself (sc.pp.neighbors(transformer=...) then sc.tl.leiden) is run on 12,000 cells by the slow
# tests/test_notebook.py::test_the_readmes_three_ways_to_scanpy_neighbours_above_ten_thousand_cells
