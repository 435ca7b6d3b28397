"""Latent-space tools: noise, sampling a generator, interpolation paths, attribute directions.

A generator maps codes ``z [N, D]`` (drawn from ``N(0, I)``) to images; these functions draw the
codes, run the generator over many of them, walk between two of them (linearly or along the
great circle, which keeps ``|z|`` where the prior puts its mass) and find directions that change
one measured attribute of the images (the DCGAN paper's latent arithmetic).
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from .inference import in_batches
from .validate import check_int, check_tensor

# --------------------------------------------------------------------------------------------
# Noise and samples
# --------------------------------------------------------------------------------------------


def sample_noise(n: int, latent_dim: int, device: torch.device | str = "cpu",
                 seed: int | None = None) -> torch.Tensor:
    """Lecture 4. ``n`` noise vectors ``z ~ N(0, I)``, ``[n, latent_dim]``; a ``seed`` makes them repeatable."""
    check_int(n, "n", 1)
    check_int(latent_dim, "latent_dim", 1)
    if seed is None:
        return torch.randn(n, latent_dim, device=device)
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)


def noise_batches(latent_dim: int, batches: int = 8, batch_size: int = 256, seed: int = 12345,
                  device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """Lecture 5. ``batches`` repeatable noise batches ``[batch_size, latent_dim]`` (e.g. to recalibrate batch norm)."""
    check_int(latent_dim, "latent_dim", 1)
    check_int(batches, "batches", 1)
    check_int(batch_size, "batch_size", 2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        yield torch.randn(batch_size, latent_dim, generator=g).to(device)


def generate_from(generator: nn.Module, z: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Lecture 4. ``generator(z)`` for given codes ``z [N, D]``: in eval mode, in batches, without gradients.

    Returns the images on the CPU, in the generator's output range ([-1, 1] for tanh); the
    generator's train/eval mode is restored afterwards.
    """
    z = check_tensor(z, "z", floating=True)
    if z.dim() not in (2, 4) or z.shape[0] == 0:
        raise ValueError(f"z must be a non-empty batch [N, latent_dim], got shape {tuple(z.shape)}")
    return in_batches(generator, z, batch_size=batch_size).float()


def generate(generator: nn.Module, n: int, seed: int | None = 0, batch_size: int = 1000) -> torch.Tensor:
    """Lecture 4. ``n`` samples ``G(z)``, ``z ~ N(0, I)`` (a fixed ``seed`` repeats them), on the CPU.

    The generator needs an int ``latent_dim`` attribute (every generator of the course has one).
    """
    check_int(n, "n", 1)
    latent_dim = getattr(generator, "latent_dim", None)
    if not isinstance(latent_dim, int):
        raise TypeError(f"generate needs a generator with an int latent_dim attribute, got {type(generator).__name__}")
    return generate_from(generator, sample_noise(n, latent_dim, seed=seed), batch_size=batch_size)


# --------------------------------------------------------------------------------------------
# Interpolation
# --------------------------------------------------------------------------------------------


def _pair(z0: torch.Tensor, z1: torch.Tensor) -> None:
    check_tensor(z0, "z0", floating=True)
    check_tensor(z1, "z1", floating=True)
    if z0.shape != z1.shape or z0.dim() == 0:
        raise ValueError(f"z0 and z1 must be vectors [D] or batches [N, D] of the same shape, "
                         f"got {tuple(z0.shape)} and {tuple(z1.shape)}")


def _t_values(t: float | torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``t`` as a tensor broadcastable against ``[T, *like.shape]``, and whether it was a 1-D path."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return torch.tensor(float(t), dtype=like.dtype, device=like.device), False
    if isinstance(t, torch.Tensor) and t.dim() <= 1:
        t = t.to(dtype=like.dtype, device=like.device)
        if t.dim() == 0:
            return t, False
        return t.reshape(-1, *([1] * like.dim())), True
    raise TypeError(f"t must be a number or a 0-D/1-D tensor of fractions, got {type(t).__name__}")


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Lecture 5. Linear interpolation ``(1 - t) z0 + t z1``.

    ``z0, z1``: ``[D]`` or ``[N, D]``; ``t`` a number (result shaped like ``z0``) or a 1-D tensor of
    ``T`` fractions (result ``[T, *z0.shape]``).
    """
    _pair(z0, z1)
    tt, _ = _t_values(t, z0)
    return (1 - tt) * z0 + tt * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Lecture 5. Spherical linear interpolation along the great circle from ``z0`` to ``z1``.

    With ``omega`` the angle between the two vectors,
    ``slerp = sin((1 - t) omega) / sin(omega) * z0 + sin(t omega) / sin(omega) * z1``: for two vectors
    of the same norm every point keeps that norm (a linear path cuts through the inside of the
    sphere). Nearly parallel vectors (``sin(omega) < eps``) fall back to :func:`lerp`. Shapes as in
    :func:`lerp`; the angle is taken per row for batches ``[N, D]``.
    """
    _pair(z0, z1)
    tt, _ = _t_values(t, z0)
    n0 = z0 / z0.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    n1 = z1 / z1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.arccos((n0 * n1).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    sin_omega = torch.sin(omega)
    parallel = sin_omega.abs() < eps
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    spherical = (torch.sin((1 - tt) * omega) / safe) * z0 + (torch.sin(tt * omega) / safe) * z1
    return torch.where(parallel, (1 - tt) * z0 + tt * z1, spherical)


def prior_norm_band(latent_dim: int, probability: float = 0.99) -> tuple[float, float, float]:
    """Lecture 5. Where the norm of ``z ~ N(0, I_D)`` lies: ``(low, median, high)`` of the chi distribution.

    ``low``/``high`` bound the central ``probability`` of the mass. In high dimension the band is
    narrow around ``sqrt(D)``: almost every prior sample sits on a thin shell.
    """
    from scipy.stats import chi

    check_int(latent_dim, "latent_dim", 1)
    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability!r}")
    tail = (1 - probability) / 2
    return (float(chi.ppf(tail, latent_dim)), float(chi.median(latent_dim)), float(chi.ppf(1 - tail, latent_dim)))


# --------------------------------------------------------------------------------------------
# Attribute directions
# --------------------------------------------------------------------------------------------


def attribute_direction(z: torch.Tensor, values: torch.Tensor, fraction: float = 0.2) -> torch.Tensor:
    """Lecture 5. Latent arithmetic for an attribute: mean ``z`` of the highest minus mean ``z`` of the lowest.

    ``z [N, D]`` are latent vectors, ``values [N]`` the attribute measured on their images (NaN
    ignored). Averaging ``fraction * N`` vectors per side keeps what they share (the attribute) and
    cancels what they do not (class, thickness, ...), as the DCGAN paper averaged three exemplars
    per concept. ``z + alpha * v`` then moves an image along the attribute. Returns ``v [D]``.
    """
    z = check_tensor(z, "z", floating=True)
    values = check_tensor(values, "values", floating=True)
    if z.dim() != 2 or values.shape != (z.shape[0],):
        raise ValueError(f"z must be [N, D] and values [N]; got {tuple(z.shape)} and {tuple(values.shape)}")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction!r}")
    keep = torch.isfinite(values)
    z, values = z[keep], values[keep]
    k = int(fraction * len(values))
    if k < 1:
        raise ValueError(f"too few finite values ({len(values)}) for fraction {fraction}: need at least one per side")
    order = values.argsort()
    return z[order[-k:]].mean(0) - z[order[:k]].mean(0)


def extreme_latents(z: torch.Tensor, values: torch.Tensor, k: int = 3, largest: bool = True,
                    among: torch.Tensor | None = None) -> torch.Tensor:
    """Lecture 5. The ``k`` latent vectors whose measured ``values`` are largest (or smallest): ``[k, D]``.

    ``among`` (a boolean mask ``[N]``, e.g. "confidently classified as a 7") restricts the choice;
    when it leaves fewer than ``k`` candidates, all vectors are candidates. NaN values never count.
    These are the "exemplars of a concept" the DCGAN paper averaged for its latent arithmetic.
    """
    z = check_tensor(z, "z", floating=True)
    values = check_tensor(values, "values", floating=True)
    check_int(k, "k", 1)
    if z.dim() != 2 or values.shape != (z.shape[0],):
        raise ValueError(f"z must be [N, D] and values [N]; got {tuple(z.shape)} and {tuple(values.shape)}")
    finite = torch.isfinite(values)
    candidates = finite & among if among is not None else finite
    if int(candidates.sum()) < k:
        candidates = finite
    if int(candidates.sum()) < k:
        raise ValueError(f"only {int(finite.sum())} finite values, fewer than k={k}")
    index = candidates.nonzero().flatten()
    order = values[index].argsort(descending=largest)
    return z[index[order[:k]]]


@torch.no_grad()
def attribute_sweep(generator: nn.Module, z: torch.Tensor, direction: torch.Tensor, alphas: Sequence[float],
                    measure: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Lecture 5. Generate ``G(z + alpha v)`` for each ``alpha`` and measure the attribute on the images.

    ``z [N, D]``, ``direction [D]``, ``measure(images [N, C, H, W]) -> [N]``. Returns
    ``(images [A, N, C, H, W], values [A, N])`` for the ``A`` values of ``alphas``.
    """
    z = check_tensor(z, "z", floating=True)
    direction = check_tensor(direction, "direction", floating=True)
    if z.dim() != 2 or direction.shape != (z.shape[1],):
        raise ValueError(f"z must be [N, D] and direction [D]; got {tuple(z.shape)} and {tuple(direction.shape)}")
    alphas = [float(a) for a in alphas]
    if not alphas:
        raise ValueError("alphas is empty")
    images = torch.stack([generate_from(generator, z + a * direction) for a in alphas])
    values = torch.stack([measure(batch) for batch in images])
    return images, values
