"""A synthetic segmentation dataset: coloured circles, squares and triangles on textured ground.

Always available (no download), deterministic from a seed.
Colours are drawn at random for every shape, so a model must use *shape*, not colour, to label
pixels. Later shapes may cover earlier ones; the mask shows what is visible.
"""
from __future__ import annotations

import math

import torch

SHAPE_CLASSES: tuple[str, ...] = ("background", "circle", "square", "triangle")


def _background(size: int, generator: torch.Generator) -> torch.Tensor:
    """A smooth random colour gradient plus mild pixel noise: [3, size, size] in [0, 1]."""
    corners = torch.rand(3, 2, 2, generator=generator) * 0.6 + 0.2
    smooth = torch.nn.functional.interpolate(corners[None], size=(size, size), mode="bilinear",
                                             align_corners=True)[0]
    noise = torch.randn(3, size, size, generator=generator) * 0.04
    return (smooth + noise).clamp(0, 1)


def _shape_mask(kind: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """A boolean [size, size] mask of one shape of class ``kind`` at a random place, size and angle."""
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    radius = (0.10 + 0.12 * torch.rand((), generator=generator).item()) * size
    cy, cx = (radius + torch.rand(2, generator=generator) * (size - 2 * radius)).tolist()
    angle = torch.rand((), generator=generator).item() * 2 * math.pi
    dy, dx = ys - cy, xs - cx
    if kind == 1:  # circle
        return dy**2 + dx**2 <= radius**2
    # rotate into the shape's own frame
    u = dx * math.cos(angle) + dy * math.sin(angle)
    v = -dx * math.sin(angle) + dy * math.cos(angle)
    if kind == 2:  # square of half-side radius * 0.85
        half = radius * 0.85
        return (u.abs() <= half) & (v.abs() <= half)
    # equilateral triangle inscribed in the circle of this radius: three half-planes
    inside = torch.ones(size, size, dtype=torch.bool)
    for k in range(3):
        theta = 2 * math.pi * k / 3
        inside &= (u * math.cos(theta) + v * math.sin(theta)) <= radius * 0.5
    return inside


def make_shapes(n: int, size: int = 64, max_shapes: int = 3, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 1. Generate ``n`` images with per-pixel class masks.

    Returns ``images`` float32 ``[n, 3, size, size]`` in [0, 1] and ``masks`` int64 ``[n, size, size]``
    with values in ``range(len(SHAPE_CLASSES))`` (0 = background). Every image has 1..max_shapes shapes.
    The same ``(n, size, max_shapes, seed)`` always gives the same data.
    """
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(size, int) or size < 16:
        raise ValueError(f"size must be an int >= 16 (shapes need room), got {size!r}")
    if not isinstance(max_shapes, int) or max_shapes < 1:
        raise ValueError(f"max_shapes must be a positive int, got {max_shapes!r}")
    generator = torch.Generator().manual_seed(seed)
    images = torch.empty(n, 3, size, size)
    masks = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        image = _background(size, generator)
        count = int(torch.randint(1, max_shapes + 1, (), generator=generator))
        for _ in range(count):
            kind = int(torch.randint(1, len(SHAPE_CLASSES), (), generator=generator))
            region = _shape_mask(kind, size, generator)
            colour = torch.rand(3, generator=generator)
            # keep the shape visible against the ground: push its colour away from the local mean
            ground = image[:, region].mean(dim=1) if region.any() else image.mean(dim=(1, 2))
            if (colour - ground).abs().max() < 0.35:
                colour = torch.where(ground > 0.5, ground - 0.45, ground + 0.45).clamp(0, 1)
            image[:, region] = colour[:, None]
            masks[i][region] = kind
        images[i] = (image + torch.randn(3, size, size, generator=generator) * 0.02).clamp(0, 1)
    return images, masks
