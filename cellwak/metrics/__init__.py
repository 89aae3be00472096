"""Clustering quality against reference labels, and batch mixing of features (pure computation)."""

from .batch import batch_silhouette, kbet, knn_accuracy, nsc_accuracy
from .clustering import compare, contingency, hungarian_f1, iawg_score, majority_labels, purity, silhouette
from .nuisance import nuisance_correlation

__all__ = ["batch_silhouette", "compare", "contingency", "hungarian_f1", "iawg_score", "kbet", "knn_accuracy",
           "majority_labels", "nsc_accuracy", "nuisance_correlation", "purity", "silhouette"]
