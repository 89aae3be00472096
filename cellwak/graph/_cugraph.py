"""Leiden on the GPU through RAPIDS cuGraph (``--backend cugraph``), when it is installed.

Never a dependency: cuGraph is imported on use, and :func:`require` refuses the backend before any
work where it cannot run (no cuGraph, or no CUDA device). The graph goes to the GPU as cuDF edge
columns (upper triangle, both directions added by cuGraph as an undirected graph), vertex ids kept
as they are (no renumbering), and the labels come back to the CPU.

Differences from the igraph path, stated rather than hidden:
- cuGraph runs its own levels of Leiden to convergence (``max_iter``, default 100); it cannot
  continue from a partition, so cellwak's iteration policy (:func:`cellwak.graph.leiden._until_stable`)
  does not apply; ``n_iterations >= 1`` caps its levels instead.
- Its random numbers are not igraph's: the same seed gives a reproducible partition on one
  installation, not the igraph partition.
- Vertices without edges are missing from cuGraph's answer; each becomes its own cluster, as in
  igraph.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError

INSTALL_HINT = ("on a CUDA machine: pip install cugraph-cu12 (RAPIDS, https://docs.rapids.ai/install), or use "
                "--backend igraph")
DEFAULT_MAX_ITER = 100


def require(option: str = "--backend cugraph") -> str:
    """cuGraph's version, or one line saying why it cannot run here (InputError)."""
    try:
        import cugraph
    except ImportError:
        raise InputError(f"{option} needs RAPIDS cuGraph, which is not installed", INSTALL_HINT) from None
    except Exception as exc:  # a CUDA runtime that fails to load raises at import
        raise InputError(f"{option}: cuGraph does not load ({type(exc).__name__}: {exc})", INSTALL_HINT) from None
    return str(getattr(cugraph, "__version__", "unknown"))


def leiden(adjacency: sp.spmatrix, resolution: float, *, seed: int = 0, weighted: bool = False,
           n_iterations: int = -1) -> np.ndarray:
    """Cluster ids per vertex (not yet renumbered by size) from ``cugraph.leiden``."""
    import cudf
    import cugraph

    n = adjacency.shape[0]
    upper = sp.triu(adjacency, k=1).tocoo()
    weights = upper.data.astype(np.float32) if weighted else np.ones(upper.nnz, dtype=np.float32)
    edges = cudf.DataFrame({"src": upper.row.astype(np.int32), "dst": upper.col.astype(np.int32), "weight": weights})
    graph = cugraph.Graph(directed=False)
    graph.from_cudf_edgelist(edges, source="src", destination="dst", edge_attr="weight", renumber=False)
    parts, _ = cugraph.leiden(graph, max_iter=n_iterations if n_iterations >= 1 else DEFAULT_MAX_ITER,
                              resolution=float(resolution), random_state=int(seed))
    vertex = _host(parts["vertex"]).astype(np.int64)
    partition = _host(parts["partition"]).astype(np.int64)
    labels = np.full(n, -1, dtype=np.int64)
    labels[vertex] = partition
    alone = np.flatnonzero(labels < 0)  # vertices without edges: one cluster each
    labels[alone] = (partition.max() + 1 if partition.size else 0) + np.arange(alone.size)
    return labels


def _host(column) -> np.ndarray:
    """A cuDF column as a NumPy array on the host."""
    to_numpy = getattr(column, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy is not None else column)
