"""Clustering quality against reference labels (pure computation)."""

from .clustering import compare, majority_labels

__all__ = ["compare", "majority_labels"]
