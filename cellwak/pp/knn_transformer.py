"""cellwak's kNN search as a scikit-learn transformer, for scanpy's own neighbour graph.

    import scanpy as sc, cellwak as cw
    t = cw.pp.KNNTransformer(n_neighbors=15)
    sc.pp.neighbors(adata, transformer=t)       # scanpy's UMAP weights on cellwak's neighbours
    t.method_, t.recall_                        # the search auto chose and its measured recall@k

``sc.pp.neighbors`` calls ``transformer.fit_transform(X)`` on its representation and reads a sparse
matrix of distances back. With this transformer the neighbours come from :func:`cellwak.graph.neighbors`
(``method="auto"``: exact up to 50,000 cells, above it the k-d tree, IVF, NN-descent or HNSW,
whichever is projected fastest on this data, held to recall@k >= 0.95 on a sample), and the matrix
is a ``scipy.sparse.csr_matrix`` (scanpy 1.11 cannot read the ``csr_array`` that pynndescent 0.6 and
later return above 4,096 cells).

``n_neighbors`` counts the cell itself, as scanpy's does: 15 gives each cell its 14 nearest other
cells. The transformer answers the cells it was fitted on (all scanpy asks of it); placing new cells
in a fitted graph is not what cellwak's searches keep an index for, and ``transform`` of other data
says so.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from ..choices import KNN_METHODS, KNN_METRICS
from ..errors import InputError
from ._neighbors import for_metric


class KNNTransformer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: ``fit_transform(X)`` -> csr_matrix of each row's distances to its
    ``n_neighbors - 1`` nearest other rows, nearest first (Euclidean).

    Fitted attributes: ``method_`` (the search used), ``recall_`` (its recall@k on a sample, 1.0
    when exact), ``choice_`` (why ``auto`` chose it), ``n_samples_fit_``."""

    def __init__(self, n_neighbors: int = 15, *, method: str = "auto", metric: str = "euclidean",
                 random_state: int = 0, device: str = "cpu"):
        self.n_neighbors = n_neighbors
        self.method = method
        self.metric = metric
        self.random_state = random_state
        self.device = device

    def _check(self, X) -> np.ndarray:
        if sp.issparse(X):
            raise InputError("KNNTransformer needs a dense matrix (scanpy passes X_pca unless use_rep='X' on sparse X)",
                             "run sc.pp.pca first, or pass use_rep= an obsm key")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise InputError(f"KNNTransformer needs a 2-D matrix (cells x features), got {X.ndim}-D")
        if not np.isfinite(X).all():
            raise InputError("the matrix given to KNNTransformer has NaN or infinite values",
                             "impute or drop those cells first")
        if self.metric not in KNN_METRICS:
            raise InputError(f"unknown metric {self.metric!r} for KNNTransformer", f"choose one of {', '.join(KNN_METRICS)}")
        if self.method not in KNN_METHODS:
            raise InputError(f"unknown method {self.method!r} for KNNTransformer", f"choose one of {', '.join(KNN_METHODS)}")
        if not isinstance(self.n_neighbors, (int, np.integer)) or not 2 <= self.n_neighbors <= X.shape[0]:
            raise InputError(f"n_neighbors={self.n_neighbors} for {X.shape[0]} cells: it counts the cell itself",
                             f"choose an integer from 2 to {X.shape[0]}")
        return np.ascontiguousarray(for_metric(X, self.metric), dtype=np.float32)

    def fit(self, X, y=None):
        from ..device import resolve_device
        from ..graph import neighbors
        from ..graph.build import distance_matrix

        X = self._check(X)
        knn = neighbors(X, self.n_neighbors - 1, method=self.method, device=resolve_device(self.device),
                        seed=int(self.random_state))
        self.distances_ = distance_matrix(knn)
        self.method_, self.recall_, self.choice_ = knn.method, knn.recall, knn.choice
        self.n_samples_fit_ = X.shape[0]
        self._fingerprint = _fingerprint(X)
        return self

    def transform(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "distances_")
        X = self._check(X)
        if X.shape[0] != self.n_samples_fit_ or _fingerprint(X) != self._fingerprint:
            raise InputError("KNNTransformer answers only the cells it was fitted on",
                             "call fit_transform on the new cells (scanpy's pp.neighbors does)")
        return self.distances_.copy()

    def fit_transform(self, X, y=None):
        return self.fit(X).distances_.copy()


def _fingerprint(X: np.ndarray) -> tuple:
    """Cheap identity of a matrix: shape and a hash of a fixed sample of its rows."""
    rows = np.linspace(0, X.shape[0] - 1, num=min(X.shape[0], 64)).astype(int)
    return X.shape, hash(X[rows].tobytes())
