"""Input validation at the library's boundaries: clear errors instead of deep tracebacks.

Each helper returns the value it checked, so a call reads ``n = check_int(n, "n", 1)``. Wrong
types raise ``TypeError``, wrong values ``ValueError``.

Validate where a student or a notebook calls in, not inside per-step loops: checks of *values*
(ranges, finiteness) read the tensor back to the CPU, which on a GPU is a synchronization every
time. :func:`check_images` does such a check only when asked for (``value_range=``, ``finite=``).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch


def check_int(value: object, name: str, minimum: int) -> int:
    """``value`` must be an int (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_number(value: object, name: str, minimum: float = 0.0, strict: bool = False,
                 maximum: float | None = None) -> float:
    """``value`` must be a finite real number ``>= minimum`` (``> minimum`` when ``strict``),
    and ``<= maximum`` when one is given. Returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return float(value)


def check_choice(value: object, name: str, choices: Sequence[object]) -> object:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_tensor(x: object, name: str, floating: bool = False) -> torch.Tensor:
    """``x`` must be a tensor (of a floating-point dtype when ``floating``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_value_range(value_range: object, name: str = "value_range") -> tuple[float, float]:
    """A pixel range ``(low, high)`` with ``high > low``, e.g. ``(0, 1)`` or ``(-1, 1)``."""
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value_range)
            or not value_range[1] > value_range[0]):
        raise ValueError(f"{name} must be (low, high) with high > low, e.g. (0, 1) or (-1, 1); got {value_range!r}")
    return float(value_range[0]), float(value_range[1])


def check_images(x: object, name: str = "images", *, channels: int | Sequence[int] | None = None,
                 size: int | tuple[int, int] | None = None, value_range: tuple[float, float] | None = None,
                 finite: bool = False, allow_empty: bool = False) -> torch.Tensor:
    """A batch of images: a floating-point tensor ``[N, C, H, W]`` with ``N > 0``.

    ``channels``: the allowed ``C`` (one number or several); ``size``: ``H = W = size`` or
    ``(H, W)``; ``value_range``: every pixel must lie in ``[low, high]`` (a little rounding
    allowed); ``finite``: no NaN or infinity. The last two read the values (a GPU sync).
    """
    x = check_tensor(x, name)
    if not x.is_floating_point():
        hint = " (uint8 images: divide by 255 first)" if x.dtype == torch.uint8 else ""
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}{hint}")
    if x.dim() != 4:
        raise ValueError(f"{name} must be a batch of images [N, C, H, W], got shape {tuple(x.shape)}")
    if x.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is an empty batch (0 images)")
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if x.shape[1] not in allowed:
            wanted = " or ".join(map(str, allowed))
            raise ValueError(f"{name} must have {wanted} channel(s), got shape {tuple(x.shape)}")
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(x.shape[2:]) != hw:
            raise ValueError(f"{name} must be {hw[0]}x{hw[1]} images, got shape {tuple(x.shape)}")
    if value_range is not None:
        low, high = check_value_range(value_range)
    if x.numel() and (finite or value_range is not None):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contain NaN or infinite values")
    if x.numel() and value_range is not None:
        tolerance = 1e-3 * (high - low)
        lo, hi = float(x.min()), float(x.max())
        if lo < low - tolerance or hi > high + tolerance:
            raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got values in [{lo:.3g}, {hi:.3g}]. "
                             f"Images of a tanh generator are in [-1, 1]: pass value_range=(-1, 1).")
    return x


def check_labels(labels: object, n: int | None = None, name: str = "labels",
                 num_classes: int | None = None) -> torch.Tensor:
    """Class indices: an int64 tensor ``[n]`` (values in ``0..num_classes-1`` when given)."""
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
        raise TypeError(f"{name} must be an int64 tensor of class indices, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.dim() != 1 or (n is not None and labels.shape[0] != n):
        wanted = f"[{n}]" if n is not None else "[N]"
        raise ValueError(f"{name} must have shape {wanted} (one class per example), got {tuple(labels.shape)}")
    if num_classes is not None and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"{name} must lie in 0..{num_classes - 1}, got {int(labels.min())}..{int(labels.max())}")
    return labels


def check_vectors(z: object, name: str = "z", dim: int | None = None) -> torch.Tensor:
    """A batch of vectors (codes, latents, features): a floating-point tensor ``[N, D]``, ``N > 0``."""
    z = check_tensor(z, name, floating=True)
    if z.dim() != 2 or z.shape[0] == 0 or (dim is not None and z.shape[1] != dim):
        wanted = f"[N, {dim}]" if dim is not None else "[N, D]"
        raise ValueError(f"{name} must have shape {wanted} with N > 0, got {tuple(z.shape)}")
    return z
