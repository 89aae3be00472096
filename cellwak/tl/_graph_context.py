"""Everything a clustering needs that does not depend on the resolution, built once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..graph.build import build_graph, directed_knn_matrix, distance_matrix
from ..graph.kernels import inverse_distance
from ..graph.knn import KNN, neighbors, resolve_method
from ..pp import representation, scaled_features
from ..progress import NULL


@dataclass
class GraphContext:
    rep: np.ndarray                 # the representation the graph is built on (n x d)
    knn: KNN
    graph: sp.csr_matrix            # undirected graph Leiden partitions
    rep_info: dict
    params: dict
    timings: dict = field(default_factory=dict)
    _features: np.ndarray | None = None
    _adata: object = None

    @property
    def n(self) -> int:
        return self.rep.shape[0]

    @property
    def features(self) -> np.ndarray:
        """The scaled input features (what noise2self predicts), computed on first use."""
        if self._features is None:
            self._features = scaled_features(self._adata)
        return self._features

    def affinity(self) -> sp.csr_matrix:
        """G (.) S: row i holds inverse distances to i's k neighbours (the DEWAK/DEPWAK kernel support)."""
        return directed_knn_matrix(self.knn, inverse_distance(self.knn.distances))


def build_context(adata, *, k: int = 15, rep: str | None = None, n_pcs: int = 50, knn_method: str = "auto",
                  weights: str = "binary", symmetrize: str | None = None, seed: int = 0, device: str = "cpu",
                  progress=NULL) -> GraphContext:
    timings = {}
    t = time.perf_counter()
    with progress.task("representation", total=1) as task:
        X, rep_info = representation(adata, rep, n_pcs, seed)
        task.advance()
    timings["representation"] = time.perf_counter() - t
    t = time.perf_counter()
    method = resolve_method(X.shape[0], knn_method, device)
    neighbours = neighbors(X, k, method=method, device=device, seed=seed, progress=progress)
    timings["knn"] = time.perf_counter() - t
    t = time.perf_counter()
    graph = build_graph(neighbours, weights=weights, symmetrize_how=symmetrize)
    timings["graph"] = time.perf_counter() - t
    params = {"k": int(k), "knn": method, "weights": weights, "symmetrize": symmetrize or
              ("fuzzy" if weights == "umap" else "union"), **rep_info}
    return GraphContext(rep=X, knn=neighbours, graph=graph, rep_info=rep_info, params=params, timings=timings,
                        _adata=adata)


def write_graph(adata, ctx: GraphContext) -> None:
    """scanpy-style neighbour keys for the graph of ``ctx``."""
    adata.obsp["cellwak_distances"] = distance_matrix(ctx.knn)
    adata.obsp["cellwak_connectivities"] = ctx.graph
    adata.uns["cellwak_neighbors"] = {
        "connectivities_key": "cellwak_connectivities", "distances_key": "cellwak_distances",
        "params": {"n_neighbors": int(ctx.params["k"]), "method": ctx.params["knn"], "metric": "euclidean",
                   "weights": ctx.params["weights"], "use_rep": ctx.rep_info["rep"]}}


def subsample_graphs(graph: sp.csr_matrix, n_subsamples: int, fraction: float, seed: int):
    """Random cell subsets and the subgraphs they induce (for stability across subsamples)."""
    rng = np.random.default_rng(seed)
    n = graph.shape[0]
    size = max(2, int(round(fraction * n)))
    out = []
    for _ in range(n_subsamples):
        cells = np.sort(rng.choice(n, size, replace=False))
        out.append((cells, graph[cells][:, cells].tocsr()))
    return out
