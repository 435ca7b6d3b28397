"""Input validation shared by the library's modules: clear errors instead of deep tracebacks (lecture 1 on).

Each helper returns the value it checked, so a call reads ``n = check_int(n, "n", 1)``.
"""
from __future__ import annotations

import math

import torch


def check_int(value: object, name: str, minimum: int) -> int:
    """``value`` must be an int (not a bool) ``>= minimum``; TypeError / ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_number(value: object, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` must be a finite real number ``>= minimum`` (``> minimum`` when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


def check_tensor(x: object, name: str, floating: bool = False) -> torch.Tensor:
    """``x`` must be a tensor (of a floating-point dtype when ``floating``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x
