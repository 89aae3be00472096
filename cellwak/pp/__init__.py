"""Preprocessing (``cellwak.pp``): the neighbour graph, scaled features and representations.

    cw.pp.neighbors(adata, n_neighbors=15)     # kNN graph under cellwak's own keys
    sc.pp.neighbors(adata, transformer=cw.pp.KNNTransformer())   # scanpy's graph on cellwak's kNN
"""

from ._neighbors import neighbors
from .knn_transformer import KNNTransformer
from .representation import PCA_KEY, is_image_dataset, pca, representation, scaled_features

__all__ = ["neighbors", "KNNTransformer", "representation", "scaled_features", "pca", "is_image_dataset", "PCA_KEY"]
