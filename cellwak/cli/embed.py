"""``cellwak embed``: layouts for looking (UMAP, PCA) and a trained run's outputs, into a dataset."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET
from ..api.embedding import EmbedConfig
from ._options import Dataset, Device, Seed
from ._progress import CliProgress
from ._state import emit, home

app = typer.Typer(help="Layouts for looking (UMAP, PCA) and trained runs' outputs, written into a dataset.",
                  no_args_is_help=True)
E = EmbedConfig


@app.command("umap")
def umap(
    dataset: Dataset = DEFAULT_DATASET,
    method: Annotated[Literal["umap", "pca"], typer.Option(help="umap (umap-learn's layout of the kNN graph) or pca "
                                                                "(the first two PCs of the graph's representation).")] = E.method,
    neighbors_key: Annotated[Optional[str], typer.Option(help="A stored graph (default: the dataset's cellwak_neighbors "
                                                              "when it was built on --rep).", show_default=False)] = E.neighbors_key,
    rep: Annotated[Optional[str], typer.Option(help="Representation of a graph built now, when none is stored for it "
                                                    "(an obsm key or X; default PCA).", show_default=False)] = E.rep,
    k: Annotated[int, typer.Option("--k", "-k", help="Neighbours per cell of a graph built now.")] = E.k,
    n_pcs: Annotated[int, typer.Option(help="PCA components of a graph built now (without --rep).")] = E.n_pcs,
    min_dist: Annotated[float, typer.Option(help="UMAP: how tightly points pack (0 to --spread).")] = E.min_dist,
    spread: Annotated[float, typer.Option(help="UMAP: the scale of the layout.")] = E.spread,
    epochs: Annotated[Optional[int], typer.Option(help="UMAP epochs (default: 500 up to 10,000 cells, 200 above).",
                                                  show_default=False)] = E.epochs,
    seed: Seed = E.seed,
    key: Annotated[Optional[str], typer.Option(help="obsm key to write (default X_cellwak_umap, or X_cellwak_pca2; "
                                                    "X_umap writes scanpy's key).", show_default=False)] = E.key,
    device: Device = E.device,
):
    """Lay the cells out in 2-D on the dataset's kNN graph: UMAP (umap-learn's layout on the stored
    graph, no second neighbour search) or the first two PCs. Seeded."""
    config = EmbedConfig(method=method, neighbors_key=neighbors_key, rep=rep, k=k, n_pcs=n_pcs, min_dist=min_dist,
                         spread=spread, epochs=epochs, seed=seed, key=key, device=device)
    with CliProgress() as progress:
        out = api.embed(home(), dataset, config, progress)
    emit(out, lambda c: c.print(f"{out.dataset}: {out.method} layout in obsm {out.key} ({out.seconds:.1f} s, on the "
                                f"{'stored' if out.graph == 'stored' else 'new'} graph {out.neighbors_key})",
                                markup=False))


@app.command("run")
def run(
    run_id: Annotated[int, typer.Argument(help="A done run (see `cellwak runs list`).", show_default=False)],
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="Dataset to embed (default: the run's own).",
                                                   show_default=False)] = None,
):
    """Write a done run's outputs (e.g. obsm X_vime, X_mevae) into a dataset: its own (from the
    copy kept with the run) or another one with the same features, through the run's final
    weights."""
    out = api.embed_run(home(), run_id, dataset)
    emit(out, lambda c: c.print(f"run {out['run']} ({out['model']}) wrote {', '.join(out['outputs'])} "
                                f"into dataset '{out['dataset']}'", markup=False))
