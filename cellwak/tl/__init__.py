"""Tools that write results into AnnData (``cellwak.tl``), scanpy-shaped.

    cw.pp.neighbors(adata)                      # the kNN graph (cellwak.pp)
    cw.tl.leiden(adata, resolution="auto")      # clusters, resolution chosen without labels
    cw.tl.sweep(adata, "0.05:3:30")             # every resolution with its label-free evidence
    cw.tl.score(adata, label_key="cell_type")   # ARI, NMI, ... against reference labels
    cw.tl.classify(adata, "locations")          # per-label classifiers (multi-label data)
    cw.tl.dewak(adata)                          # choose PCs and neighbours by noise2self
    cw.tl.markers(adata)                        # what sets each cluster apart (rank_genes_groups layout)
    cw.tl.enrich(adata, "condition")            # conditions over-represented per cluster
    cw.tl.umap(adata)                           # a layout for looking, on the same graph
    cw.tl.cluster(adata, gamma=1.0)             # neighbours + Leiden in one call
"""

from ._leiden import AUTO_GAMMAS, ClusterResult, leiden, parse_gamma
from ._score import score
from ._select import RULES, choose_gamma
from .classify import classify
from .cluster import cluster
from .dewak import DewakResult, dewak
from ._enrich import enrich, enrichment
from ._string import interaction_network, interactions
from ._umap import umap
from ._markers import MarkersResult, markers, run_markers
from .sweep import SweepResult, parse_gammas, sweep, sweep_table

__all__ = ["AUTO_GAMMAS", "ClusterResult", "DewakResult", "MarkersResult", "RULES", "SweepResult", "choose_gamma",
           "classify", "cluster", "dewak", "enrich", "enrichment", "interaction_network", "interactions",
           "leiden", "markers", "parse_gamma", "parse_gammas", "run_markers", "score", "sweep", "sweep_table",
           "umap"]
