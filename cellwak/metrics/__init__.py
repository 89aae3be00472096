"""Clustering quality against reference labels (pure computation)."""

from .clustering import compare, contingency, hungarian_f1, iawg_score, majority_labels, purity, silhouette
from .nuisance import nuisance_correlation

__all__ = ["compare", "contingency", "hungarian_f1", "iawg_score", "majority_labels", "nuisance_correlation", "purity",
           "silhouette"]
