"""``umap``: a 2-D layout of the cells for looking, on cellwak's own kNN graph.

    cw.pp.neighbors(adata); cw.tl.umap(adata)           # obsm['X_cellwak_umap']

umap-learn's layout (``simplicial_set_embedding``, as scanpy's ``sc.tl.umap`` uses it) runs on the
graph stored by :func:`cellwak.pp.neighbors`: no second neighbour search. The layout needs UMAP's
fuzzy membership strengths, so when the stored graph is binary (cellwak's default for Leiden),
they are computed from the stored neighbour distances (the same kNN lists, UMAP's weights).
``method='pca'`` gives the first two principal components of the graph's representation instead.

Writes ``obsm[key_added]`` (default ``X_cellwak_umap``, or ``X_cellwak_pca2`` for the PCA
layout: cellwak's own keys, so a user's ``X_umap`` stays as it was; pass ``key_added='X_umap'`` to
write scanpy's key), ``uns[key_added without 'X_']`` (the parameters, scanpy-style) and
``uns['cellwak']['umap']`` (provenance).
"""

from __future__ import annotations

import re
import time

import numpy as np

from .. import provenance
from ..errors import InputError
from ..progress import NULL

SPECTRAL_MAX_CELLS = 100_000  # above: the layout starts from the PCA of the representation (spectral init of a
                              # million-node graph takes longer than the layout itself)


class _EpochBridge:
    """A file for tqdm's bar (``{n}/{total}``) that advances a cellwak progress task."""

    def __init__(self, task):
        self.task, self.done = task, 0

    def write(self, text: str) -> None:
        for n, _ in re.findall(r"(\d+)/(\d+)", text):
            if int(n) > self.done:
                self.task.advance(int(n) - self.done)
                self.done = int(n)

    def flush(self) -> None:
        pass


def _layout_graph(ctx):
    """The fuzzy graph UMAP's layout expects (COO), from the stored kNN when the graph is binary."""
    import scipy.sparse as sp

    from ..graph.build import build_graph

    graph = ctx.graph if ctx.weighted else build_graph(ctx.knn, weights="umap")
    return sp.coo_matrix(graph, dtype=np.float32)


def run_umap(adata, ctx, *, method: str = "umap", min_dist: float = 0.5, spread: float = 1.0, n_epochs: int | None = None,
             init: str = "auto", random_state: int = 0, key_added: str | None = None, progress=NULL) -> dict:
    """The layout of the graph in ``ctx`` (a :class:`cellwak.pp._neighbors.GraphContext`); writes the
    keys of the module docstring and returns its record."""
    if method not in ("umap", "pca"):
        raise InputError(f"unknown --method {method!r}", "choose umap or pca")
    if not 0 <= min_dist <= spread or not spread > 0:
        raise InputError(f"--min-dist {min_dist:g} must lie between 0 and --spread {spread:g}")
    if n_epochs is not None and n_epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {n_epochs}")
    key = key_added or ("X_cellwak_umap" if method == "umap" else "X_cellwak_pca2")
    t0 = time.perf_counter()
    rng = np.random.RandomState(random_state)
    X = np.asarray(ctx.rep, dtype=np.float32)
    params = {"method": method, "random_state": int(random_state), "neighbors_key": ctx.params.get("neighbors_key"),
              "use_rep": ctx.rep_info["rep"]}
    if method == "pca":
        from ..pp.representation import pca

        with progress.task("PCA layout", total=1) as task:
            layout, _, _ = pca(X, 2, random_state)
            task.advance()
    else:
        from umap.umap_ import find_ab_params, simplicial_set_embedding

        n = X.shape[0]
        epochs = n_epochs or (500 if n <= 10_000 else 200)
        start = init if init != "auto" else ("spectral" if n <= SPECTRAL_MAX_CELLS else "pca")
        a, b = find_ab_params(spread, min_dist)
        graph = _layout_graph(ctx)
        with progress.task(f"UMAP layout ({epochs} epochs)", total=epochs) as task:
            layout, _ = simplicial_set_embedding(
                X, graph, 2, 1.0, a, b, 1.0, 5, epochs, start, rng, "euclidean", {}, False, {}, False,
                verbose=False, tqdm_kwds={"file": _EpochBridge(task), "bar_format": "{n}/{total}", "mininterval": 0.2,
                                         "disable": False})
        params.update({"min_dist": float(min_dist), "spread": float(spread), "a": float(a), "b": float(b),
                       "n_epochs": int(epochs), "init": start})
    adata.obsm[key] = np.asarray(layout, dtype=np.float32)
    seconds = time.perf_counter() - t0
    adata.uns[key.removeprefix("X_")] = {"params": params}
    record = provenance.record(f"embed {method}", {**params, "key": key}, seed=random_state, seconds=seconds)
    adata.uns.setdefault("cellwak", {})["umap" if method == "umap" else "pca2"] = record
    return {"key": key, "seconds": round(seconds, 3), **params}


def umap(adata, *, neighbors_key: str | None = None, method: str = "umap", min_dist: float = 0.5, spread: float = 1.0,
         n_epochs: int | None = None, init: str = "auto", random_state: int = 0, key_added: str | None = None,
         copy: bool = False, progress=NULL):
    """A 2-D layout of the graph stored by :func:`cellwak.pp.neighbors` (see the module docstring).

    method     umap (umap-learn's layout of the graph) or pca (the first two PCs of the graph's
               representation).
    init       auto (spectral up to 100,000 cells, the PCA of the representation above), spectral,
               pca or random.
    n_epochs   None: 500 up to 10,000 cells, 200 above (umap-learn's rule).
    Returns None, or a modified copy with ``copy=True``.
    """
    from ..pp._neighbors import load

    adata = adata.copy() if copy else adata
    run_umap(adata, load(adata, neighbors_key), method=method, min_dist=min_dist, spread=spread, n_epochs=n_epochs,
             init=init, random_state=random_state, key_added=key_added, progress=progress)
    return adata if copy else None
