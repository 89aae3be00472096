"""Nuisance transforms of cell crops: the generator ME-VAE needs and nobody ships
(shared/methods/extractors.md A.2, A.8 item 4).

Images are float tensors (N, C, H, W) with the cell near the centre. Geometry comes from the
intensity moments of the channel sum, which assumes a dark (zero) background; every function takes
an optional ``background`` (N, C, 1, 1) (e.g. :func:`border_background`, the median of each crop's
outer frame): then the moments weigh |image - background| and rotations fill the corners they
uncover with the background instead of zero, so bright-field or stained crops on a bright
background (blood smears, imaging flow) get the same geometry as fluorescence crops:

- ``principal_angle``: the angle of the major axis (radians, counter-clockwise from the x axis,
  in (-pi/2, pi/2]) from the second central moments;
- ``align``: rotate about the intensity centroid so that the major axis is vertical;
- ``polarity``: the sign of the third moment along the vertical axis (+1: the heavier tail points
  down, i.e. towards larger row indices); ``orient`` flips the crops whose polarity is -1, so after
  ``align`` then ``orient`` every cell has the same polar orientation;
- ``normalise_size``: scale so that the radius of gyration is ``fraction`` of the crop size;
- ``canonical``: align, orient and (optionally) normalise size: ME-VAE's target;
- ``mevae_views``: (rotation-randomised input, polarity-randomised input, canonical target), the
  triplets of ME-VAE's example data, from any crops;
- ``dihedral``: each crop turned by a random quarter turn and flipped at random (the image
  classifier's augmentation: exact, no interpolation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _grid(images: torch.Tensor):
    n, _, h, w = images.shape
    ys = torch.arange(h, dtype=images.dtype, device=images.device)
    xs = torch.arange(w, dtype=images.dtype, device=images.device)
    return ys, xs


def border_background(images: torch.Tensor) -> torch.Tensor:
    """Each crop's background per channel: the median of its outer one-pixel frame, (N, C, 1, 1)."""
    frame = torch.cat([images[..., 0, :], images[..., -1, :], images[..., 1:-1, 0], images[..., 1:-1, -1]], dim=-1)
    return frame.median(dim=-1).values[..., None, None]


def _weight(images: torch.Tensor, background: torch.Tensor | None) -> torch.Tensor:
    if background is None:
        return images.sum(dim=1).clamp_min(0)
    return (images - background).abs().sum(dim=1)


def moments(images: torch.Tensor, background: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Centroid (cx, cy) and central moments mu20, mu02, mu11, mu03 of the channel sum (of
    |images - background| when a background is given)."""
    m = _weight(images, background)
    ys, xs = _grid(images)
    total = m.sum(dim=(1, 2)).clamp_min(1e-12)
    cx = (m * xs[None, None, :]).sum(dim=(1, 2)) / total
    cy = (m * ys[None, :, None]).sum(dim=(1, 2)) / total
    dx = xs[None, None, :] - cx[:, None, None]
    dy = ys[None, :, None] - cy[:, None, None]
    mu = lambda p, q: (m * dx ** p * dy ** q).sum(dim=(1, 2)) / total  # noqa: E731
    return {"cx": cx, "cy": cy, "mu20": mu(2, 0), "mu02": mu(0, 2), "mu11": mu(1, 1), "mu03": mu(0, 3)}


def principal_angle(images: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
    """Angle of the major axis, counter-clockwise from the x axis in image coordinates (y down)."""
    mo = moments(images, background)
    return 0.5 * torch.atan2(2 * mo["mu11"], mo["mu20"] - mo["mu02"])


def affine(images: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor | None = None,
           center: tuple[torch.Tensor, torch.Tensor] | None = None,
           background: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate each crop by ``angle`` (radians, the content turns counter-clockwise on screen, i.e.
    from +x towards -y) about ``center`` (default: the crop centre), then move that centre to the
    crop centre and magnify by ``scale``. Bilinear; outside the crop: ``background`` (default zero)."""
    if background is not None:
        return affine(images - background, angle, scale, center) + background
    n, _, h, w = images.shape
    angle = torch.as_tensor(angle, dtype=images.dtype, device=images.device).expand(n)
    scale = torch.ones_like(angle) if scale is None else torch.as_tensor(scale, dtype=images.dtype).expand(n)
    if center is None:
        cx = torch.full_like(angle, (w - 1) / 2)
        cy = torch.full_like(angle, (h - 1) / 2)
    else:
        cx, cy = center
    # the output pixel at offset (X, Y) from the crop centre samples the input at
    # (cx, cy) + R(angle) (X, Y) / scale; in image coordinates (y down) that turns the content by
    # -angle, i.e. counter-clockwise on screen, and a principal angle a becomes a - angle.
    cos, sin = torch.cos(angle), torch.sin(angle)
    sx, sy = (w - 1) / 2, (h - 1) / 2
    theta = torch.zeros(n, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = cos / scale
    theta[:, 0, 1] = -sin / scale * (sy / sx)
    theta[:, 1, 0] = sin / scale * (sx / sy)
    theta[:, 1, 1] = cos / scale
    theta[:, 0, 2] = (cx - sx) / sx
    theta[:, 1, 2] = (cy - sy) / sy
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def align(images: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
    """Major axis vertical, the intensity centroid at the crop centre."""
    mo = moments(images, background)
    angle = 0.5 * torch.atan2(2 * mo["mu11"], mo["mu20"] - mo["mu02"])
    # sampling with +angle brings the axis at `angle` onto +x; a further pi/2 makes it vertical
    return affine(images, angle - math.pi / 2, center=(mo["cx"], mo["cy"]), background=background)


def polarity(images: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
    """+1 where the third vertical moment is >= 0 (heavier tail downwards), else -1."""
    return torch.where(moments(images, background)["mu03"] >= 0, 1.0, -1.0)


def orient(images: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
    """Flip (top to bottom) the crops whose polarity is -1."""
    flip = polarity(images, background) < 0
    out = images.clone()
    out[flip] = torch.flip(images[flip], dims=[-2])
    return out


def normalise_size(images: torch.Tensor, fraction: float = 0.2,
                   background: torch.Tensor | None = None) -> torch.Tensor:
    """Scale so that the radius of gyration sqrt(mu20 + mu02) is ``fraction`` of the crop size."""
    mo = moments(images, background)
    radius = torch.sqrt((mo["mu20"] + mo["mu02"]).clamp_min(1e-6))
    scale = fraction * images.shape[-1] / radius
    return affine(images, torch.zeros_like(radius), scale=scale, center=(mo["cx"], mo["cy"]), background=background)


def canonical(images: torch.Tensor, size: bool = False, fraction: float = 0.2,
              background: torch.Tensor | None = None) -> torch.Tensor:
    """ME-VAE's target: major axis vertical, one polar orientation, optionally one size."""
    out = orient(align(images, background), background)
    return normalise_size(out, fraction, background) if size else out


def randomised_views(target: torch.Tensor, generator: torch.Generator | None = None,
                     background: torch.Tensor | None = None):
    """(target turned by a uniform random angle, target flipped top to bottom with probability 1/2)."""
    n = target.shape[0]
    angles = torch.rand(n, generator=generator, device=target.device, dtype=target.dtype) * 2 * math.pi
    flip = torch.rand(n, generator=generator, device=target.device) < 0.5
    flipped = torch.where(flip[:, None, None, None], torch.flip(target, dims=[-2]), target)
    return affine(target, angles, background=background), flipped


def mevae_views(images: torch.Tensor, generator: torch.Generator | None = None, size: bool = False,
                background: torch.Tensor | None = None):
    """(rotation-randomised input, polarity-randomised input, canonical target) for each crop:
    input 1 is the target turned by a uniform random angle, input 2 the target flipped top to
    bottom with probability 1/2."""
    target = canonical(images, size=size, background=background)
    return (*randomised_views(target, generator, background), target)


def dihedral(x: torch.Tensor) -> torch.Tensor:
    """Each crop turned by a random multiple of 90 degrees and flipped with probability 1/2
    (torch's generator, which checkpoints carry, so a resumed run draws the same)."""
    choice = torch.randint(0, 8, (len(x),), device=x.device)
    out = x.clone()
    for g in range(8):
        rows = choice == g
        if rows.any():
            y = torch.rot90(x[rows], g % 4, dims=(2, 3))
            out[rows] = torch.flip(y, dims=(3,)) if g >= 4 else y
    return out
