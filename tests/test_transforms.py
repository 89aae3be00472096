"""Nuisance transforms for ME-VAE (pp/transforms.py) on synthetic crops whose rotation and
polarity are known."""

from __future__ import annotations

import math

import numpy as np
import torch

from cellwak.datasets.synthetic import render_cell
from cellwak.pp.transforms import (affine, align, canonical, mevae_views, normalise_size, polarity, principal_angle)


def crops(params):
    return torch.tensor(np.stack([render_cell(32, 0.4, 0.18, 0.1, 0.45, a, p, s) for a, p, s in params]))


def wrap(a):
    """Angles of an axis are equal modulo pi."""
    return (a + math.pi / 2) % math.pi - math.pi / 2


def test_principal_angle_recovers_the_rendered_rotation():
    angles = [0.0, 0.4, 1.2, -0.9, 2.5]
    found = principal_angle(crops([(a, 1, 1.0) for a in angles])).numpy()
    assert np.allclose(wrap(found - np.array(angles)), 0, atol=0.05)


def test_affine_turns_the_axis_by_the_angle():
    img = crops([(0.2, 1, 1.0)])
    for a in (0.3, -0.8, 1.4):
        assert abs(wrap(float(principal_angle(affine(img, torch.tensor([a])))) - (0.2 - a))) < 0.05


def test_align_makes_the_major_axis_vertical_and_orient_removes_polarity():
    imgs = crops([(a, p, 1.0) for a, p in [(0.3, 1), (2.0, -1), (-1.2, 1), (4.0, -1), (0.8, -1)]])
    aligned = align(imgs)
    assert np.allclose(np.abs(principal_angle(aligned).numpy()), math.pi / 2, atol=0.05)
    target = canonical(imgs)
    assert (polarity(target) == polarity(target)[0]).all()
    corr = np.corrcoef(target.reshape(5, -1).numpy())
    assert corr.min() > 0.99  # the same cell, whatever its rotation and polarity


def test_size_normalisation_equalises_scale():
    imgs = crops([(0.5, 1, 0.7), (0.5, 1, 1.2)])
    out = normalise_size(imgs, 0.2)
    assert np.corrcoef(out.reshape(2, -1).numpy())[0, 1] > 0.98
    assert np.corrcoef(imgs.reshape(2, -1).numpy())[0, 1] < 0.9


def test_mevae_views_randomise_one_nuisance_each():
    imgs = crops([(a, p, 1.0) for a, p in [(0.1, 1), (1.0, -1), (2.0, 1), (3.0, -1)] * 4])
    rotated, flipped, target = mevae_views(imgs, torch.Generator().manual_seed(0))
    assert rotated.shape == flipped.shape == target.shape == imgs.shape
    # input 2 keeps the axis vertical and only its polarity varies; input 1 keeps the polarity
    # relative to the axis but turns the axis
    assert np.allclose(np.abs(principal_angle(flipped).numpy()), math.pi / 2, atol=0.05)
    assert len(set(polarity(flipped).tolist())) == 2
    assert np.abs(principal_angle(rotated).numpy() - principal_angle(target).numpy()).max() > 0.3


def test_border_background_gives_bright_field_crops_the_same_geometry():
    """Stained or bright-field crops: a dark cell on a bright background (here the inverted
    synthetic cell). With the border background the moments find the cell's axis and rotations
    fill the uncovered corners with the background, not with black."""
    from cellwak.models.transforms import border_background

    angles = [0.0, 0.4, 1.2, -0.9]
    dark_cells = crops([(a, 1, 1.0) for a in angles])
    bright = 0.9 - 0.8 * dark_cells / dark_cells.amax()
    bg = border_background(bright)
    assert bg.shape == (4, 2, 1, 1) and torch.allclose(bg, torch.full_like(bg, 0.9))
    found = principal_angle(bright, bg).numpy()
    assert np.allclose(wrap(found - np.array(angles)), 0, atol=0.05)
    turned = affine(bright, torch.full((4,), 0.7), background=bg)
    assert torch.allclose(turned[..., 0, 0], torch.full((4, 2), 0.9), atol=1e-5)  # corners: background
    assert affine(bright, torch.full((4,), 0.7))[..., 0, 0].max() < 0.5  # zero fill: black corners
    target = canonical(bright, background=bg)
    assert np.allclose(np.abs(principal_angle(target, bg).numpy()), np.pi / 2, atol=0.1)
    assert torch.allclose(border_background(target), bg, atol=1e-4)
