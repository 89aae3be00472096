"""Preprocessing: scaled features and representations (``cellwak.pp``)."""

from .representation import is_image_dataset, pca, representation, scaled_features

__all__ = ["representation", "scaled_features", "pca", "is_image_dataset"]
