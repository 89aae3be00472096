"""``cluster``: neighbours and Leiden in one call (what ``cellwak cluster`` runs).

    cw.tl.cluster(adata, gamma=1.0)
is the same as
    cw.pp.neighbors(adata, n_neighbors=15, n_pcs=50); cw.tl.leiden(adata, resolution=1.0)
and writes the keys of both (:mod:`cellwak.pp.neighbors`, :mod:`cellwak.tl._leiden`); it returns
a :class:`ClusterResult` (labels, sizes, parameters, timings, metrics against the dataset's labels).
"""

from __future__ import annotations

from ..device import resolve_device
from ..pp import _neighbors as nb
from ..progress import NULL
from ._distributed import current as current_scheduler
from ._leiden import AUTO_GAMMAS, ClusterResult, check_leiden, run_leiden
from .sweep import KEY

__all__ = ["ClusterResult", "cluster", "AUTO_GAMMAS"]


def cluster(adata, *, gamma=1.0, k: int = 15, seed: int = 0, rep: str | None = None, n_pcs: int = 50,
            knn_method: str = "auto", weights: str = "binary", objective: str = "modularity", backend: str = "igraph",
            n_iterations: int | None = None, key: str = KEY, device: str = "auto", auto_gammas: str = AUTO_GAMMAS,
            subsamples: int = 5, n_jobs: int | None = None, neighbors_key: str | None = None, features=None,
            progress=NULL) -> ClusterResult:
    """Leiden clustering of ``adata`` at resolution ``gamma`` (a number, or ``'auto'``: a sweep of
    ``auto_gammas`` and the label-free rule of :mod:`cellwak.tl._resolution`, shared with ``sweep``) on the
    kNN graph (``k`` neighbours) of ``rep`` (an obsm key, ``'X'`` for the scaled features, or
    None: PCA with ``n_pcs`` components; ``features``: only these columns of X). ``device``: auto,
    cpu or cuda (the kNN search)."""
    nb.check_settings(adata.n_obs, k, method=knn_method, weights=weights)
    check_leiden(gamma, objective=objective, backend=backend, n_iterations=n_iterations, subsamples=subsamples)
    device = resolve_device(device)
    ctx = nb.compute(adata, n_neighbors=k, n_pcs=None if rep is not None else n_pcs, use_rep=rep, method=knn_method,
                     weights=weights, random_state=seed, device=device, features=features,
                     scheduler=current_scheduler(), progress=progress)
    ctx.params["neighbors_key"] = nb.write(adata, ctx, neighbors_key)
    return run_leiden(adata, ctx, gamma, key_added=key, random_state=seed, n_iterations=n_iterations,
                      objective=objective, backend=backend, resolutions=auto_gammas, subsamples=subsamples,
                      n_jobs=n_jobs, progress=progress)
