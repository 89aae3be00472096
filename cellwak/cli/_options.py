"""Options shared by several commands, declared once (``Annotated`` aliases).

Defaults come from the operations' configs (:mod:`cellwak.api.config`) and allowed values from
:mod:`cellwak.choices`, so neither is written twice; Typer lists the allowed values of every
choice in ``--help`` and refuses others. Help texts avoid lower-case words in square brackets
(rich markup would eat them; tests/test_cli_help.py checks).
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from ..api.config import DEFAULT_DATASET, ClusterConfig, GraphConfig
from ..choices import KNN_METHODS, WEIGHTS

Dataset = Annotated[str, typer.Option("--dataset", "-d", help=f"Dataset name (default: the built-in '{DEFAULT_DATASET}').")]
Seed = Annotated[int, typer.Option(help="Random seed of every random draw of the command (same seed, same result).")]
K = Annotated[int, typer.Option("--k", "-k", help="Neighbours per cell in the kNN graph.")]
Rep = Annotated[Optional[str], typer.Option(help="Representation: an obsm key (e.g. X_dino), or X for the scaled features; "
                                                 "default: PCA of the scaled features (obsm X_cellwak_pca).")]
NPcs = Annotated[int, typer.Option(help="PCA components when --rep is not given.")]
Knn = Annotated[Literal[KNN_METHODS], typer.Option("--knn", help="kNN search: auto is exact up to 50,000 cells on the CPU "
                                                                   "(always on CUDA); above, the k-d tree (exact), IVF (faiss), "
                                                                   "NN-descent or HNSW, whichever is fastest when timed on the "
                                                                   "data.")]
Weights = Annotated[Literal[WEIGHTS], typer.Option(help="Edge weights of the kNN graph.")]
Device = Annotated[str, typer.Option(help="Where the kNN search runs: auto (CUDA when present), cpu, cuda or cuda:N.")]
Scheduler = Annotated[Optional[str], typer.Option(
    help="A Dask scheduler (tcp://host:8786) whose workers run the work: the kNN queries in shards and the "
         "sweep's Leiden runs (cluster, sweep), the (d, k) evaluations (dewak); default: "
         "$CELLWAK_DASK_SCHEDULER, else here (needs pip install 'cellwak[dask]').", show_default=False)]
Jobs = Annotated[Optional[int], typer.Option(help="Parallel Leiden processes (default: all cores, at most 8).",
                                             show_default=False)]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]
Features = Annotated[Optional[str], typer.Option(help="Cluster on these columns of X only, comma-separated (e.g. the "
                                                       "marker channels: --features CD3,CD4,CD8); default: every feature.",
                                                  show_default=False)]

DEFAULTS = {name: GraphConfig.default(name) for name in ("k", "rep", "n_pcs", "knn", "weights", "seed", "device",
                                                         "features")}
SUBSAMPLES = ClusterConfig.default("subsamples")
