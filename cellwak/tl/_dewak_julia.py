"""The DEWAK loss table in Julia (``dewak --backend julia``): the kNN search, the WAK kernel and
the noise2self loss of every (d, k) run in CellWAK.jl (``julia/src/dewak.jl``).

Same maths and inputs as :class:`._dewak_eval.LossTable` (features X and PCs as float32, the
neighbours of the first d PCs searched once at k_max, affinities 1 / (distance + eps) as float32,
column or row normalisation, the mean over cells and features); the differences are the search
(Julia's exact kNN in float64, where the Python path ranks float32 distances: lists can differ
only at near-ties) and the arithmetic of the loss (float64 in Julia, float32 products with float64
sums in torch), so losses agree to about 1e-6 relative. The first visit of a d runs one request
(search + losses) and keeps the lists here; later visits send the lists back with X.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

from ..choices import KERNEL_BACKENDS
from ..errors import InputError
from ..progress import NULL
from ._dewak_eval import LossTable

JULIA_KNN_METHODS = ("auto", "exact")


def check_backend(backend: str, knn_method: str = "auto") -> None:
    """Refuse a backend that is not one of KERNEL_BACKENDS, or a kNN method Julia does not have."""
    if backend not in KERNEL_BACKENDS:
        raise InputError(f"unknown DEWAK backend {backend!r}", f"choose one of {', '.join(KERNEL_BACKENDS)}")
    if backend == "julia" and knn_method not in JULIA_KNN_METHODS:
        raise InputError(f"the Julia DEWAK searches exact neighbours only, not {knn_method!r}",
                         "use knn_method='exact' (or 'auto') with backend='julia', or backend='python'")


def backend_params(backend: str) -> dict:
    """What ran the search, for the provenance: the backend, and Julia's transport and version."""
    if backend != "julia":
        return {"backend": backend}
    from ..backends.julia import shared_kernels

    return {"backend": backend, **shared_kernels().describe()}


class JuliaLossTable(LossTable):
    """:class:`LossTable` whose neighbour searches and losses run in Julia (``kernels``: a
    :class:`cellwak.backends.julia.JuliaKernels`, by default the process's shared one)."""

    def __init__(self, X, embedding, k_max: int, *, norm: str = "col", seed: int = 0, progress=NULL, kernels=None,
                 cache_bytes: int = 1 << 30):
        from ..backends.julia import shared_kernels

        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.embedding = np.asarray(embedding, dtype=np.float32)
        self.k_max, self.norm, self.seed = int(k_max), norm, seed
        n = self.X.shape[0]
        self.knn_method = "exact"
        self.progress = progress
        self.kernels = kernels or shared_kernels()
        self.values: dict[tuple[int, int], float] = {}
        self.n_knn = 0
        self.repaired: dict[int, int] = {}
        self.seconds = {"knn": 0.0, "loss": 0.0}
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_entries = max(1, cache_bytes // max(1, n * self.k_max * 12))

    def _search(self, d: int, ks: list[int]) -> np.ndarray:
        """One request: the neighbours of the first d PCs (kept) and the losses of ``ks``."""
        t = time.perf_counter()
        E = np.ascontiguousarray(self.embedding[:, :d], dtype=np.float64)
        out = self.kernels.dewak_losses(self.X, ks, norm=self.norm, embedding=E, d=d, k_max=self.k_max)
        wall = time.perf_counter() - t
        knn = min(wall, float(out.get("knn_seconds", 0.0)))
        self.seconds["knn"] += knn
        self.seconds["loss"] += wall - knn
        self.n_knn += 1
        self.repaired[d] = 0
        self._cache[d] = (out["indices"], out["affinities"])
        while len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)
        return out["losses"]

    def neighbour_lists(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, affinities) of every cell's k_max nearest neighbours in the first d PCs (Julia)."""
        if d not in self._cache:
            values = self._search(d, [1])
            self.values.setdefault((d, 1), float(values[0]))
        self._cache.move_to_end(d)
        return self._cache[d]

    def losses(self, d: int, ks) -> np.ndarray:
        """L(d, k) for each k of ``ks`` (computing only the ones not known yet), in Julia."""
        ks = [int(k) for k in ks]
        missing = sorted({k for k in ks if (d, k) not in self.values})
        if missing:
            if d in self._cache:
                self._cache.move_to_end(d)
                t = time.perf_counter()
                values = self.kernels.dewak_losses(self.X, missing, norm=self.norm, neighbours=self._cache[d])["losses"]
                self.seconds["loss"] += time.perf_counter() - t
            else:
                values = self._search(d, missing)
            self.values.update({(d, k): float(v) for k, v in zip(missing, values)})
        return np.array([self.values[(d, k)] for k in ks])
