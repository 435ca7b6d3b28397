"""Toy distributions with known densities: 1-D Gaussian mixtures and a ring of 2-D Gaussians.

Small enough to compute everything exactly (densities, the optimal discriminator, divergences)
and to watch a GAN's samples move (lecture 4's theory and mode collapse, lecture 7's remedies,
lecture 9's 2-D diffusion toy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .validate import check_int, check_number


@dataclass(frozen=True)
class GaussianMixture1D:
    """Lecture 4. A mixture of 1-D Gaussians: exact density (``pdf``, ``logpdf``) and samples.

    >>> p = GaussianMixture1D(means=(-1.0, 1.5), stds=(0.5, 0.7), weights=(0.4, 0.6))
    """

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        means, stds = tuple(float(m) for m in self.means), tuple(float(s) for s in self.stds)
        weights = tuple(float(w) for w in self.weights) if self.weights is not None else (1.0,) * len(means)
        if not means or len(stds) != len(means) or len(weights) != len(means):
            raise ValueError(f"need as many means, stds and weights (at least one); got {len(means)}, "
                             f"{len(stds)} and {len(weights)}")
        if min(stds) <= 0:
            raise ValueError(f"standard deviations must be positive, got {stds}")
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", tuple(w / sum(weights) for w in weights))

    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """``log p(x)`` (stable in the tails: a log-sum-exp over the components)."""
        x = np.asarray(x, dtype=float)[..., None]
        mu, sd, w = (np.asarray(v) for v in (self.means, self.stds, self.weights))
        with np.errstate(divide="ignore"):           # a component of weight 0 contributes log 0 = -inf
            comp = np.log(w) - 0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)
        top = comp.max(axis=-1, keepdims=True)
        return (top + np.log(np.exp(comp - top).sum(axis=-1, keepdims=True)))[..., 0]

    def logpdf_scalar(self, x: float) -> float:
        """``log p(x)`` for one number, in plain Python (what ``scipy.integrate.quad`` calls, fast)."""
        comp = [math.log(w) - 0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
                for m, s, w in zip(self.means, self.stds, self.weights) if w > 0]
        top = max(comp)
        return top + math.log(sum(math.exp(c - top) for c in comp))

    def pdf(self, x: np.ndarray | float) -> np.ndarray:
        """The density ``p(x)``."""
        return np.exp(self.logpdf(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws as a float32 tensor ``[n, 1]`` (the shape a 1-D network takes)."""
        check_int(n, "n", 1)
        which = torch.multinomial(torch.tensor(self.weights), n, replacement=True, generator=generator)
        noise = torch.randn(n, generator=generator)
        x = torch.tensor(self.means)[which] + torch.tensor(self.stds)[which] * noise
        return x.float()[:, None]

    def support(self, width: float = 12.0) -> tuple[float, float]:
        """An interval that holds all but a negligible part of the mass (``width`` standard deviations)."""
        return (min(m - width * s for m, s in zip(self.means, self.stds)),
                max(m + width * s for m, s in zip(self.means, self.stds)))


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Lecture 4. ``modes`` points evenly spaced on a circle of ``radius``, ``[modes, 2]``."""
    check_int(modes, "modes", 1)
    radius = check_number(radius, "radius", strict=True)
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Lecture 4. ``n`` points from an equal mixture of ``modes`` Gaussians (``std``) on a ring, ``[n, 2]``."""
    check_int(n, "n", 1)
    std = check_number(std, "std", strict=True)
    centers = ring_centers(modes, radius)
    which = torch.randint(0, modes, (n,), generator=generator)
    return centers[which] + std * torch.randn(n, 2, generator=generator)
