"""The synthetic generators carry the truth they promise."""

from __future__ import annotations

import numpy as np

from cellwak.datasets import blobs, cell_crops
from cellwak.datasets.synthetic import render_cell


def test_blobs_shapes_and_labels():
    a = blobs(200, 8, 4, seed=1)
    assert a.shape == (200, 8) and a.obs["label"].nunique() == 4


def test_crops_record_nuisance_and_rotation_is_real():
    a = cell_crops(60, size=24, seed=2)
    assert {"phenotype", "rotation", "polarity", "scale"} <= set(a.obs.columns)
    assert a.obsm["images"].shape == (60, 2, 24, 24)
    assert set(a.obs["polarity"]) == {-1, 1}
    # rotating the rendering by 90 degrees equals rotating the image array
    img0 = render_cell(33, 0.4, 0.18, 0.1, 0.45, 0.0, 1, 1.0)
    img90 = render_cell(33, 0.4, 0.18, 0.1, 0.45, np.pi / 2, 1, 1.0)
    assert np.abs(np.rot90(img0, k=-1, axes=(1, 2)) - img90).max() < 1e-4
    # polarity moves the nucleus to the other pole
    flipped = render_cell(33, 0.4, 0.18, 0.1, 0.45, 0.0, -1, 1.0)
    assert np.abs(img0[1][:, ::-1] - flipped[1]).max() < 1e-4
    assert np.abs(img0[1] - flipped[1]).max() > 0.5


def test_phenotypes_differ_more_than_noise():
    a = cell_crops(90, size=24, rotate=False, flip_polarity=False, scale_range=(1, 1), noise=0.0, seed=0)
    imgs = a.obsm["images"].reshape(90, -1)
    groups = a.obs["phenotype"].to_numpy()
    means = {p: imgs[groups == p].mean(0) for p in np.unique(groups)}
    within = max(np.abs(imgs[groups == p] - means[p]).max() for p in means)
    assert within < 1e-5  # no nuisance, no noise: one image per phenotype
    keys = list(means)
    assert min(np.abs(means[a_] - means[b_]).max() for a_ in keys for b_ in keys if a_ != b_) > 0.3
