"""Layouts for looking: ``cellwak embed umap`` (UMAP or the first two PCs) on the dataset's graph."""

from __future__ import annotations

from dataclasses import dataclass

from ..progress import NULL
from ._common import Result, editing, open_workspace
from .config import _Config, _device, _one_of


@dataclass
class EmbedConfig(_Config):
    """The layout and, when the dataset has no stored graph for ``rep``, how to build one."""

    method: str = "umap"              # umap | pca
    neighbors_key: str | None = None  # a stored graph (default: cellwak_neighbors, when it was built on rep)
    rep: str | None = None            # the graph's representation when one has to be built
    k: int = 15
    n_pcs: int = 50
    min_dist: float = 0.5
    spread: float = 1.0
    epochs: int | None = None
    seed: int = 0
    key: str | None = None            # obsm key (default X_cellwak_umap / X_cellwak_pca2)
    device: str = "auto"

    def check(self) -> None:
        _one_of("--method", self.method, ("umap", "pca"))
        _device(self.device)
        from ..errors import InputError

        if self.k < 1:
            raise InputError(f"--k must be at least 1, got {self.k}")
        if not 0 <= self.min_dist <= self.spread or not self.spread > 0:  # before any graph is built
            raise InputError(f"--min-dist {self.min_dist:g} must lie between 0 and --spread {self.spread:g}")


@dataclass
class EmbedOutcome(Result):
    dataset: str
    key: str
    method: str
    graph: str              # "stored" (reused) or "built"
    neighbors_key: str
    params: dict
    seconds: float


def embed(ws, dataset: str, config: EmbedConfig | None = None, progress=NULL) -> EmbedOutcome:
    """A 2-D layout of ``dataset`` into ``obsm`` (see :mod:`cellwak.tl._umap`): on the stored graph
    when there is one for the representation asked for, else on a graph built now (and stored)."""
    from ..device import resolve_device
    from ..errors import InputError
    from ..pp import _neighbors as nb
    from ..tl._umap import run_umap

    config = config or EmbedConfig()
    config.check()
    device = resolve_device(config.device)
    ws = open_workspace(ws)
    row = ws.dataset(dataset)
    if config.k >= row["n_obs"]:
        raise InputError(f"--k {config.k} is not smaller than the number of cells ({row['n_obs']})")
    with editing(ws, dataset) as adata:
        key = config.neighbors_key or nb.DEFAULT_KEY
        stored = adata.uns.get(key, {}).get("params", {}) if isinstance(adata.uns.get(key), dict) else None
        reuse = stored is not None and (config.neighbors_key is not None or config.rep in (None, stored.get("use_rep")))
        if config.neighbors_key is not None and stored is None:
            raise InputError(f"dataset {dataset!r} has no graph under {config.neighbors_key!r}",
                             "leave --neighbors-key out to build one, or run `cellwak cluster` first")
        if reuse:
            ctx = nb.load(adata, key)
        else:
            ctx = nb.compute(adata, n_neighbors=config.k, n_pcs=None if config.rep is not None else config.n_pcs,
                             use_rep=config.rep, random_state=config.seed, device=device, progress=progress)
            ctx.params["neighbors_key"] = nb.write(adata, ctx)
        out = run_umap(adata, ctx, method=config.method, min_dist=config.min_dist, spread=config.spread,
                       n_epochs=config.epochs, random_state=config.seed, key_added=config.key, progress=progress)
    return EmbedOutcome(dataset=dataset, key=out["key"], method=config.method, graph="stored" if reuse else "built",
                        neighbors_key=ctx.params.get("neighbors_key", key),
                        params={k: v for k, v in out.items() if k not in ("key", "seconds")}, seconds=out["seconds"])
