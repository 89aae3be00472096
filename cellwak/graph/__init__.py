"""Graphs on cells: neighbour search and graph construction (pure computation)."""

from .build import directed_knn_matrix, distance_matrix, knn_graph, symmetrize
from .knn import KNN, exact_knn, neighbors, neighbour_distances, recall

__all__ = ["KNN", "exact_knn", "neighbors", "recall", "neighbour_distances", "knn_graph", "symmetrize", "directed_knn_matrix",
           "distance_matrix"]
