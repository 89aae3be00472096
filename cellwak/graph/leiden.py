"""Leiden community detection on a graph in CSR form (igraph by default, leidenalg on request).

Seeded: the same graph and seed give the same labels. Labels are renumbered by cluster size,
largest first, so cluster 0 is always the biggest.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from ..choices import LEIDEN_BACKENDS


def to_igraph(adjacency: sp.spmatrix, *, weighted: bool = True):
    """Undirected igraph Graph from a symmetric sparse adjacency (upper triangle used)."""
    import igraph

    upper = sp.triu(adjacency, k=1).tocoo()
    g = igraph.Graph(n=adjacency.shape[0], edges=_edge_pairs(upper.row, upper.col), directed=False)
    if weighted:
        g.es["weight"] = upper.data.astype(np.float64).tolist()
    return g


def _edge_pairs(rows: np.ndarray, cols: np.ndarray, chunk: int = 1 << 20):
    """(row, col) tuples, a chunk of Python ints at a time. igraph converts an (E, 2) NumPy array
    row by row through NumPy scalars: on 15,000,000 edges (1,000,000 cells, k = 15) that took 13.7 s
    and 2.2 GB more peak memory, this generator 5.0 s and 0.27 GB."""
    for start in range(0, len(rows), chunk):
        yield from zip(rows[start:start + chunk].tolist(), cols[start:start + chunk].tolist())


@contextmanager
def _igraph_seed(seed: int):
    import igraph

    igraph.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        igraph.set_random_number_generator(random)


MAX_ITERATIONS = 20
TOLERANCE = 1e-3  # relative modularity gain below which another iteration is not worth its time ...
TOLERANCE_FROM_EDGES = 1_000_000  # ... on graphs this large; smaller ones iterate while there is any gain
NO_GAIN = 1e-12


def tolerance_for(n_edges: int) -> float:
    """The relative gain an iteration must exceed for the next to run, on a graph of ``n_edges``."""
    return TOLERANCE if n_edges >= TOLERANCE_FROM_EDGES else 0.0


def _until_stable(g, objective: str, weights, resolution: float, policy_edges: int | None = None) -> list[int]:
    """Leiden iterations from the previous result while each one still raises the quality, at most
    ``MAX_ITERATIONS``. On graphs of ``TOLERANCE_FROM_EDGES`` edges or more (about 70,000 cells
    at k = 15) an iteration must also gain more than ``TOLERANCE`` of the quality for the next to
    run: a smaller gain is kept and ends the run. A loss is never kept.

    Why the tolerance: measured at 100,000 and 1,000,000 cells (resampled flow cytometry and a
    32-dim mixture; gamma 1 and 3), after the second or third iteration each further one gains
    1e-5 to 5e-4 of the modularity, and waiting for no gain at all ran into the cap of 20
    iterations, for 3.5-4x the time (-0.6 to -0.8% modularity with the tolerance; section
    scale-leiden-policy of BENCHMARKS.md). Why only on large graphs: there an iteration takes
    seconds; on the small graphs of the label-free resolution choice (the stability subsamples are
    at most 20,000 cells) it takes milliseconds, and the tolerance changed choices there (embryo_screen
    seed 0: 4 clusters at ARI 0.40 became 3 at 0.18) for no time worth saving. The cap counts
    iterations, not seconds, so the same graph and seed give the same labels on any machine.
    igraph's own n_iterations=-1 waits for an unchanged membership, which at high resolutions on
    large kNN graphs can take minutes. ``policy_edges``: the edge count the tolerance is read from
    (default the graph's own), so that subsamples are partitioned as the graph they are compared
    with (an 80 % subsample of a 100,000-cell graph has 0.8 M edges, the graph 1.24 M).
    """
    tolerance = tolerance_for(g.ecount() if policy_edges is None else policy_edges)
    membership = g.community_leiden(objective_function=objective, weights=weights, resolution=resolution,
                                    n_iterations=1).membership
    quality = _quality(g, membership, objective, weights, resolution)
    for _ in range(MAX_ITERATIONS - 1):
        nxt = g.community_leiden(objective_function=objective, weights=weights, resolution=resolution,
                                 n_iterations=1, initial_membership=membership).membership
        q = _quality(g, nxt, objective, weights, resolution)
        gain = q - quality
        if gain <= NO_GAIN * max(1.0, abs(quality)):  # no gain: the previous partition stays
            break
        membership, quality = nxt, q
        if gain <= tolerance * abs(quality):  # a small gain: kept, and the last iteration
            break
    return membership


def _quality(g, membership, objective: str, weights, resolution: float) -> float:
    if objective == "modularity":
        return g.modularity(membership, weights=weights, resolution=resolution)
    import numpy as np  # CPM: sum over clusters of (internal weight - resolution * n_c choose 2)

    m = np.asarray(membership)
    w = np.asarray(g.es[weights]) if weights else np.ones(g.ecount())
    edges = np.asarray(g.get_edgelist())
    internal = np.bincount(m[edges[:, 0]][m[edges[:, 0]] == m[edges[:, 1]]],
                           weights=w[m[edges[:, 0]] == m[edges[:, 1]]], minlength=m.max() + 1)
    sizes = np.bincount(m)
    return float((internal - resolution * sizes * (sizes - 1) / 2).sum())


def relabel_by_size(membership) -> np.ndarray:
    membership = np.asarray(membership)
    ids, counts = np.unique(membership, return_counts=True)
    order = ids[np.lexsort((ids, -counts))]  # by size, ties by original id
    mapping = np.empty(ids.max() + 1, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return mapping[membership]


OBJECTIVES = {
    # name: (igraph objective, leidenalg partition class name, takes a resolution)
    "modularity": ("modularity", "RBConfigurationVertexPartition", True),
    "cpm": ("CPM", "CPMVertexPartition", True),
    "rber": (None, "RBERVertexPartition", True),
    "significance": (None, "SignificanceVertexPartition", False),
    "surprise": (None, "SurpriseVertexPartition", False),
}
BACKENDS = LEIDEN_BACKENDS


def leiden(adjacency: sp.spmatrix, resolution: float = 1.0, *, seed: int = 0, n_iterations: int = -1,
           objective: str = "modularity", weighted: bool = False, backend: str = "igraph", graph=None,
           policy_edges: int | None = None) -> np.ndarray:
    """Cluster labels (int64, 0 = largest cluster).

    objective: ``modularity`` (the resolution gamma scales the null model; leidenalg's
    RBConfiguration), ``CPM``; with leidenalg also ``RBER``, ``Significance``, ``Surprise``.
    backend: ``igraph`` (``community_leiden``, C; the fastest on a CPU), ``leidenalg``, ``julia``
    (CellWAK.jl's Leiden, modularity only; needs a julia executable) or ``cugraph`` (RAPIDS on a
    GPU, modularity only, when installed; :mod:`._cugraph` says how it differs).
    ``graph``: a prebuilt igraph Graph of ``adjacency`` to skip the conversion (sweeps).
    ``policy_edges``: with ``n_iterations=-1``, the edge count the iteration tolerance is read
    from (:func:`_until_stable`; default the graph's own; not cuGraph's).
    """
    key = objective.lower()
    if key not in OBJECTIVES:
        raise ValueError(f"unknown Leiden objective {objective!r}; choose one of {sorted(OBJECTIVES)}")
    igraph_name, leidenalg_name, uses_resolution = OBJECTIVES[key]
    if uses_resolution and not resolution > 0:
        raise ValueError(f"resolution must be > 0, got {resolution}")
    if backend == "julia":
        if key != "modularity":
            raise ValueError("the Julia Leiden optimises modularity only")
        from ..backends.julia import shared_kernels

        A = adjacency if weighted else (adjacency != 0).astype(np.float64)
        return relabel_by_size(shared_kernels().leiden(A, resolution, seed=seed, n_iterations=n_iterations,
                                                        tolerance=tolerance_for(sp.triu(A, k=1).nnz if policy_edges is None
                                                                                else policy_edges),
                                                        max_iterations=MAX_ITERATIONS))
    if backend == "cugraph":
        if key != "modularity":
            raise ValueError("cuGraph's Leiden optimises modularity only")
        from ._cugraph import leiden as cugraph_leiden

        return relabel_by_size(cugraph_leiden(adjacency, resolution, seed=seed, weighted=weighted,
                                              n_iterations=n_iterations))
    if backend not in BACKENDS:
        raise ValueError(f"unknown Leiden backend {backend!r}; choose one of {BACKENDS}")
    g = graph if graph is not None else to_igraph(adjacency, weighted=weighted)
    weights = "weight" if weighted and "weight" in g.es.attributes() else None
    if backend == "igraph":
        if igraph_name is None:
            raise ValueError(f"objective {objective!r} needs backend='leidenalg'")
        with _igraph_seed(seed):
            if n_iterations >= 0:
                membership = g.community_leiden(objective_function=igraph_name, weights=weights,
                                                resolution=resolution, n_iterations=n_iterations).membership
            else:
                membership = _until_stable(g, igraph_name, weights, resolution, policy_edges)
        return relabel_by_size(membership)
    import leidenalg

    kind = getattr(leidenalg, leidenalg_name)
    kwargs = {"resolution_parameter": resolution} if uses_resolution else {}
    if weights and key != "significance":
        kwargs["weights"] = weights
    part = leidenalg.find_partition(g, kind, n_iterations=n_iterations, seed=seed, **kwargs)
    return relabel_by_size(part.membership)
