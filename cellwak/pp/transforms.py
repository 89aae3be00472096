"""Nuisance transforms of cell crops (rotation, polarity, size) for notebooks: the
implementation lives with the models that use it, :mod:`cellwak.models.transforms`."""

from ..models.transforms import (affine, align, canonical, mevae_views, moments, normalise_size, orient, polarity,
                                 principal_angle, randomised_views)

__all__ = ["affine", "align", "canonical", "mevae_views", "moments", "normalise_size", "orient", "polarity",
           "principal_angle", "randomised_views"]
