"""Tools that write results into AnnData (``cellwak.tl``)."""

from ._leiden import leiden, relabel_by_size, to_igraph
from ._select import RULES, choose_gamma
from .cluster import ClusterResult, cluster
from .dewak import DewakResult, dewak
from .sweep import SweepResult, parse_gammas, sweep

__all__ = ["cluster", "ClusterResult", "dewak", "DewakResult", "sweep", "SweepResult", "parse_gammas", "choose_gamma", "RULES", "leiden",
           "relabel_by_size", "to_igraph"]
