"""``neighbors``: the kNN graph of the cells, scanpy-shaped.

    import cellwak as cw
    cw.pp.neighbors(adata, n_neighbors=15)           # then cw.tl.leiden(adata), sc.tl.umap(...)

Writes into ``adata`` (``key_added=None`` gives the cellwak names below; ``key_added='foo'`` gives
``obsp['foo_distances']``, ``obsp['foo_connectivities']`` and ``uns['foo']``, as scanpy does):

    obsp['cellwak_distances']       kNN distances (row i: i's k neighbours, self excluded)
    obsp['cellwak_connectivities']  the undirected graph (binary union by default) Leiden partitions
    uns['cellwak_neighbors']        {'connectivities_key', 'distances_key', 'params'}: scanpy reads it
                                    with ``neighbors_key='cellwak_neighbors'``
    obsm['X_cellwak_pca'], varm['cellwak_PCs'], uns['cellwak_pca']
                                    cellwak's PCA of the scaled features, when ``use_rep`` is None
    uns['cellwak']['neighbors']     provenance: parameters, seed, versions, threads, device, time

It never writes scanpy's own keys (``X_pca``, ``PCs``, ``uns['pca']``, ``uns['neighbors']``,
``obsp['distances']``, ``obsp['connectivities']``), so a user's analysis stays as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .. import provenance
from ..choices import KNN_METHODS, KNN_METRICS, WEIGHTS
from ..device import resolve_device
from ..errors import InputError, short_list
from ..graph.build import build_graph, directed_knn_matrix, distance_matrix
from ..graph.exact import KNN
from ..graph.kernels import inverse_distance
from ..graph.knn import neighbors as knn_search
from ..progress import NULL
from .representation import feature_index, representation, scaled_features

DEFAULT_KEY = "cellwak_neighbors"
DEFAULT_N_PCS = 50


@dataclass
class GraphContext:
    """Everything a clustering needs that does not depend on the resolution, built once."""

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
    def weighted(self) -> bool:
        """Whether the edge weights differ (a binary graph is partitioned unweighted)."""
        data = self.graph.data
        return bool(data.size) and not np.all(data == data[0])

    @property
    def features(self) -> np.ndarray:
        """The scaled input features (what noise2self predicts; only the chosen ones when the graph
        was built on a subset), computed on first use."""
        if self._features is None:
            self._features = scaled_features(self._adata)
            if self.rep_info.get("features"):
                self._features = self._features[:, feature_index(self._adata, self.rep_info["features"])]
        return self._features

    def affinity(self) -> sp.csr_matrix:
        """G (.) S: row i holds inverse distances to i's k neighbours (the DEWAK/DEPWAK kernel support)."""
        return directed_knn_matrix(self.knn, inverse_distance(self.knn.distances))


def keys(key_added: str | None) -> tuple[str, str, str]:
    """(uns key, obsp distances key, obsp connectivities key) for ``key_added``."""
    if key_added is None or key_added == DEFAULT_KEY:
        return DEFAULT_KEY, "cellwak_distances", "cellwak_connectivities"
    return key_added, f"{key_added}_distances", f"{key_added}_connectivities"


def check_settings(n_obs: int, n_neighbors: int, *, method: str = "auto", metric: str = "euclidean",
                   weights: str = "binary") -> None:
    """Refuse settings that cannot work, with one line each (before any computation)."""
    if n_neighbors < 1:
        raise InputError(f"--k must be at least 1, got {n_neighbors}")
    if n_neighbors >= n_obs:
        raise InputError(f"--k {n_neighbors} is not smaller than the number of cells ({n_obs})",
                         f"choose k below {n_obs}")
    for what, value, allowed in (("--knn", method, KNN_METHODS), ("--metric", metric, KNN_METRICS),
                                 ("--weights", weights, WEIGHTS)):
        if value not in allowed:
            raise InputError(f"unknown {what} {value!r}", f"choose one of {', '.join(allowed)}")


def for_metric(X: np.ndarray, metric: str) -> np.ndarray:
    """``X`` as the kNN search sees it: for ``cosine`` each row scaled to unit length (Euclidean
    distance of unit vectors orders neighbours as cosine does; zero rows stay zero)."""
    if metric != "cosine":
        return X
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _representation(adata, use_rep, n_pcs, seed, features=None) -> tuple[np.ndarray, dict]:
    """scanpy's semantics: ``use_rep`` None -> cellwak's PCA with ``n_pcs`` components (50 when
    None); an obsm key -> that matrix (its first ``n_pcs`` columns when ``n_pcs`` is given)."""
    if features is not None:
        return representation(adata, use_rep, DEFAULT_N_PCS if n_pcs is None else n_pcs, seed, features=features)
    if use_rep is None:
        return representation(adata, None, DEFAULT_N_PCS if n_pcs is None else n_pcs, seed)
    X, info = representation(adata, use_rep, DEFAULT_N_PCS, seed)
    if n_pcs is not None and use_rep != "X":
        if n_pcs < 1 or n_pcs > X.shape[1]:
            raise InputError(f"n_pcs={n_pcs} but {use_rep!r} has {X.shape[1]} columns",
                             f"choose n_pcs between 1 and {X.shape[1]}, or leave it out")
        X, info = X[:, :n_pcs], {**info, "n_pcs": int(n_pcs)}
    return X, info


def compute(adata, *, n_neighbors: int = 15, n_pcs: int | None = None, use_rep: str | None = None,
            method: str = "auto", metric: str = "euclidean", weights: str = "binary", symmetrize: str | None = None,
            random_state: int = 0, device: str = "auto", features=None, scheduler: str | None = None,
            progress=NULL) -> GraphContext:
    """The representation, its kNN and the graph, without writing the graph (see :func:`neighbors`).
    Writes cellwak's PCA keys when it computes a PCA. ``scheduler``: a Dask scheduler address (checked
    by the caller) whose workers answer the kNN queries in shards (:mod:`cellwak.graph.sharded`)."""
    check_settings(adata.n_obs, n_neighbors, method=method, metric=metric, weights=weights)
    device = resolve_device(device)
    timings = {}
    t = time.perf_counter()
    with progress.task("representation", total=1) as task:
        X, rep_info = _representation(adata, use_rep, n_pcs, random_state, features)
        task.advance()
    if X.shape[0] > 1 and not np.any(np.ptp(X, axis=0) > 0):
        what = rep_info["rep"] if rep_info["rep"] != "X" else "the features"
        raise InputError(f"every cell has the same values in {what}: there is nothing to cluster",
                         "check the data (a constant export, or features that were all dropped), or choose another --rep")
    X = for_metric(X, metric)
    timings["representation"] = time.perf_counter() - t
    t = time.perf_counter()
    knn = knn_search(X, n_neighbors, method=method, device=device, seed=random_state, scheduler=scheduler,
                     progress=progress)
    timings["knn"] = time.perf_counter() - t
    t = time.perf_counter()
    with progress.task("graph", total=1) as task:
        graph = build_graph(knn, weights=weights, symmetrize_how=symmetrize)
        task.advance()
    timings["graph"] = time.perf_counter() - t
    params = {"k": int(n_neighbors), "knn": knn.method, "knn_recall": knn.recall, "knn_choice": knn.choice,
              "metric": metric, "weights": weights,
              "symmetrize": symmetrize or ("fuzzy" if weights == "umap" else "union"), "seed": int(random_state),
              "device": device, **rep_info}
    return GraphContext(rep=X, knn=knn, graph=graph, rep_info=rep_info, params=params, timings=timings, _adata=adata)


def write(adata, ctx: GraphContext, key_added: str | None = None) -> str:
    """scanpy-style neighbour keys for the graph of ``ctx``; returns the ``uns`` key."""
    uns_key, dist_key, conn_key = keys(key_added)
    adata.obsp[dist_key] = distance_matrix(ctx.knn)
    adata.obsp[conn_key] = ctx.graph
    p = ctx.params
    adata.uns[uns_key] = {
        "connectivities_key": conn_key, "distances_key": dist_key,
        "params": {"n_neighbors": int(p["k"]), "method": p["knn"], "metric": p["metric"], "weights": p["weights"],
                   "symmetrize": p["symmetrize"], "use_rep": ctx.rep_info["rep"], "random_state": int(p["seed"]),
                   **({"n_pcs": int(ctx.rep_info["n_pcs"])} if ctx.rep_info.get("n_pcs") else {}),
                   **({"features": list(ctx.rep_info["features"])} if ctx.rep_info.get("features") else {})}}
    record = provenance.record("neighbors", {**p, "key": uns_key}, seed=p["seed"], device=p["device"],
                               seconds=sum(ctx.timings.values()))
    adata.uns.setdefault("cellwak", {})["neighbors"] = record
    return uns_key


def neighbors(adata, n_neighbors: int = 15, n_pcs: int | None = None, *, use_rep: str | None = None,
              method: str = "auto", metric: str = "euclidean", weights: str = "binary", key_added: str | None = None,
              random_state: int = 0, device: str = "auto", features=None, copy: bool = False, progress=NULL):
    """Compute the kNN graph of ``adata`` (see the module docstring for what is written).

    n_neighbors   neighbours per cell (self excluded).
    n_pcs         PCA components when ``use_rep`` is None (default 50; a table with no more
                  features than that is used as it is, standardised); with ``use_rep``, its
                  first ``n_pcs`` columns.
    use_rep       an ``obsm`` key (``X_pca``, ``X_dino``, ...) or ``'X'`` (the scaled features);
                  None: cellwak's PCA of the scaled features (images: each channel divided by
                  its maximum; tables: each feature standardised).
    method        auto (exact up to 50,000 cells on the CPU and on CUDA; above, the k-d tree, IVF,
                  NN-descent or HNSW, whichever is projected fastest when timed on this data), exact,
                  kdtree, ivf, nndescent, hnsw. The recall of an approximate search is estimated on
                  1,000 cells; the choice and the recall go into the provenance.
    metric        euclidean or cosine.
    weights       edge weights: binary, inverse, umap, gaussian, jaccard (see cellwak.graph.build).
    device        auto, cpu, cuda or cuda:N (exact search on the GPU).
    features      only these columns of ``X`` (names), e.g. the marker channels of a cytometry panel
                  (a cellwak extension; scanpy would subset the AnnData).
    Returns None, or a modified copy with ``copy=True``.
    """
    adata = adata.copy() if copy else adata
    ctx = compute(adata, n_neighbors=n_neighbors, n_pcs=n_pcs, use_rep=use_rep, method=method, metric=metric,
                  weights=weights, random_state=random_state, device=device, features=features, progress=progress)
    write(adata, ctx, key_added)
    return adata if copy else None


def _knn_from_distances(D: sp.csr_matrix) -> KNN:
    """Neighbour lists (nearest first) from a distances matrix; rows with more entries than the
    shortest row are cut to its length."""
    D = D.tocsr()
    counts = np.diff(D.indptr)
    k = int(counts.min()) if counts.size else 0
    if k < 1:
        raise InputError("the stored neighbour distances have a cell without neighbours",
                         "compute the graph again with cw.pp.neighbors")
    idx = np.empty((D.shape[0], k), dtype=np.int64)
    dist = np.empty((D.shape[0], k), dtype=np.float32)
    for i in range(D.shape[0]):
        lo, hi = D.indptr[i], D.indptr[i + 1]
        order = np.argsort(D.data[lo:hi], kind="stable")[:k]
        idx[i], dist[i] = D.indices[lo:hi][order], D.data[lo:hi][order]
    return KNN(idx, dist)


def _regular_knn(D: sp.csr_matrix) -> KNN | None:
    """Fast path: every row holds the same number of entries, already sorted by distance (ours)."""
    D = D.tocsr()
    counts = np.diff(D.indptr)
    if not counts.size or counts.min() != counts.max() or counts[0] < 1:
        return None
    k = int(counts[0])
    idx = D.indices.reshape(-1, k).astype(np.int64)
    dist = D.data.reshape(-1, k).astype(np.float32)
    if not np.all(np.diff(dist, axis=1) >= 0):
        return None
    return KNN(idx, dist)


def load(adata, neighbors_key: str | None = None) -> GraphContext:
    """The graph stored under ``neighbors_key`` (default ``cellwak_neighbors``; scanpy's
    ``neighbors`` works too) as a :class:`GraphContext`."""
    uns_key = neighbors_key or DEFAULT_KEY
    if uns_key not in adata.uns:
        found = [k for k, v in adata.uns.items() if isinstance(v, dict) and "connectivities_key" in v]
        hint = f"or pass neighbors_key= one of {short_list(found)}" if found else ""
        raise InputError(f"no neighbour graph under uns[{uns_key!r}]",
                         f"run cw.pp.neighbors(adata) first {hint}".strip())
    entry = adata.uns[uns_key]
    conn_key = entry.get("connectivities_key", "connectivities")
    dist_key = entry.get("distances_key", "distances")
    for key in (conn_key, dist_key):
        if key not in adata.obsp:
            raise InputError(f"uns[{uns_key!r}] names obsp[{key!r}], which is missing",
                             "compute the graph again with cw.pp.neighbors")
    params = dict(entry.get("params", {}))
    D = adata.obsp[dist_key]
    knn = _regular_knn(D) or _knn_from_distances(D)
    use_rep = params.get("use_rep") or ("X_pca" if "X_pca" in adata.obsm else "X")
    X, rep_info = representation(adata, str(use_rep), DEFAULT_N_PCS, int(params.get("random_state", 0) or 0))
    if params.get("features") is not None:
        rep_info["features"] = [str(f) for f in params["features"]]
        if use_rep == "X":
            X = X[:, feature_index(adata, rep_info["features"])]
    if params.get("n_pcs") and use_rep != "X":
        X = X[:, : int(params["n_pcs"])]
    X = for_metric(X, params.get("metric", "euclidean"))
    graph = sp.csr_matrix(adata.obsp[conn_key], dtype=np.float32)
    weights = str(params.get("weights", "binary" if np.all(graph.data == 1) else "umap"))
    ctx_params = {"k": int(knn.k), "knn": str(params.get("method", "exact")), "metric": str(params.get("metric", "euclidean")),
                  "weights": weights, "symmetrize": str(params.get("symmetrize", "fuzzy" if weights == "umap" else "union")),
                  "seed": int(params.get("random_state", 0) or 0), "neighbors_key": uns_key, **rep_info}
    return GraphContext(rep=X, knn=knn, graph=graph, rep_info=rep_info, params=ctx_params, _adata=adata)


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
