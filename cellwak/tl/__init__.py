"""Tools that write results into AnnData (``cellwak.tl``)."""

from ._leiden import leiden, relabel_by_size, to_igraph
from .cluster import ClusterResult, cluster

__all__ = ["cluster", "ClusterResult", "leiden", "relabel_by_size", "to_igraph"]
