"""The DEWAK loss table L(d, k), filled on demand with one neighbour search per d.

:class:`LossTable` owns the fixed parts of a search (features X, the PCs, k_max, the kernel
normalisation, the kNN method) and computes L(d, k) only for the pairs a search asks for: the
neighbours of the first d PCs are searched once at k_max (:mod:`._dewak_knn`) and kept in a
small cache, and the losses of every requested k come from prefixes of that one list
(:mod:`._dewak_loss`).
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np
import pandas as pd

from ..graph.kernels import EPS, inverse_distance
from ..progress import NULL
from ._dewak_knn import neighbours, resolve_knn_method
from ._dewak_loss import gram_matrix, losses_all_k, use_gram


class LossTable:
    """L(d, k) = MSE(X, WAK(G_k(d) . S_d) X), computed on demand and remembered.

    ``X`` (n, m) the features predicted; ``embedding`` (n, >= d_max) the PCs whose first d
    columns define distances; neighbours are searched at ``k_max``.
    """

    def __init__(self, X, embedding, k_max: int, *, norm: str = "col", knn_method: str = "auto", seed: int = 0,
                 progress=NULL, dtype=None, cache_bytes: int = 1 << 30):
        import torch

        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.embedding = np.asarray(embedding, dtype=np.float32)
        self.k_max, self.norm, self.seed = int(k_max), norm, seed
        n, m = self.X.shape
        self.knn_method = resolve_knn_method(n, knn_method)
        self.progress = progress
        self.dtype = dtype or torch.float32
        self.values: dict[tuple[int, int], float] = {}
        self.n_knn = 0
        self.repaired: dict[int, int] = {}          # cells searched again after HNSW, per d
        self.seconds = {"knn": 0.0, "loss": 0.0}
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_entries = max(1, cache_bytes // max(1, n * self.k_max * 12))
        self._gram = gram_matrix(self.X, self.dtype) if norm == "col" and use_gram(n, m, self.k_max) else None

    @property
    def d_available(self) -> int:
        return self.embedding.shape[1]

    def neighbour_lists(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, affinities) of every cell's k_max nearest neighbours in the first d PCs."""
        if d in self._cache:
            self._cache.move_to_end(d)
            return self._cache[d]
        t = time.perf_counter()
        inner = self.progress if self.knn_method == "hnsw" else NULL
        knn, repaired = neighbours(np.ascontiguousarray(self.embedding[:, :d]), self.k_max,
                                   method=self.knn_method, seed=self.seed, progress=inner)
        entry = (knn.indices, inverse_distance(knn.distances, EPS).astype(np.float32))
        self.seconds["knn"] += time.perf_counter() - t
        self.n_knn += 1
        self.repaired[d] = repaired
        self._cache[d] = entry
        while len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)
        return entry

    def losses(self, d: int, ks) -> np.ndarray:
        """L(d, k) for each k of ``ks`` (computing only the ones not known yet)."""
        ks = [int(k) for k in ks]
        missing = sorted({k for k in ks if (d, k) not in self.values})
        if missing:
            indices, weights = self.neighbour_lists(d)
            t = time.perf_counter()
            values = losses_all_k(self.X, indices, weights, missing, norm=self.norm, gram=self._gram,
                                  dtype=self.dtype)
            self.seconds["loss"] += time.perf_counter() - t
            self.values.update({(d, k): float(v) for k, v in zip(missing, values)})
        return np.array([self.values[(d, k)] for k in ks])

    def loss(self, d: int, k: int) -> float:
        return float(self.losses(d, [k])[0])

    def evaluate_many(self, requests, on_done=None) -> None:
        """L(d, ks) for each (d, ks) of ``requests``, which do not depend on one another (here one
        after the other; :class:`._dewak_dask.RemoteLossTable` runs them on a Dask cluster at once).
        ``on_done()`` after each."""
        for d, ks in requests:
            self.losses(d, ks)
            if on_done is not None:
                on_done()

    def close(self) -> None:
        """Nothing to release here (a remote table drops its data from the workers)."""

    def best(self, d: int | None = None) -> tuple[int, int, float]:
        """The evaluated (d, k) with the lowest loss (over one d when given; ties: smaller d, k)."""
        items = [(v, dk) for dk, v in self.values.items() if d is None or dk[0] == d]
        if not items:
            raise ValueError("nothing evaluated yet")
        v, (bd, bk) = min(items, key=lambda item: (item[0], item[1]))
        return bd, bk, v

    def frame(self) -> pd.DataFrame:
        """Every evaluated (d, k, loss), sorted by d then k."""
        if not self.values:
            return pd.DataFrame({"d": pd.Series(dtype=np.int32), "k": pd.Series(dtype=np.int32),
                                 "loss": pd.Series(dtype=np.float64)})
        keys = sorted(self.values)
        return pd.DataFrame({"d": np.array([d for d, _ in keys], dtype=np.int32),
                             "k": np.array([k for _, k in keys], dtype=np.int32),
                             "loss": np.array([self.values[key] for key in keys], dtype=np.float64)})
