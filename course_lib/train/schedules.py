"""Learning-rate schedules: one helper for every lecture's schedule.

A schedule multiplies each parameter group's learning rate by a factor that depends only on the
step count: a linear warm-up over the first ``warmup`` steps, a constant stretch up to the
``hold`` share of the run, then a decay (half-cosine or linear) to ``final`` times the rate at
``total_steps``. Lecture 1 and the autoencoder/VAE recipe decay along a cosine; the GAN loops of
lectures 4 and 5 hold, then decay linearly to 0. A ``LambdaLR`` keeps the step count in its
``state_dict``, so a resumed run continues the schedule where it stopped.
"""
from __future__ import annotations

import math

import torch

from ..validate import check_choice, check_int, check_number

SHAPES = ("cosine", "linear", "constant")


def lr_factor(step: int, total_steps: int, *, shape: str = "cosine", hold: float = 0.0, warmup: int = 0,
              final: float = 0.0) -> float:
    """Lecture 1. The learning-rate multiplier at ``step`` (0-based) of a run of ``total_steps``.

    ``warmup`` steps ramp linearly up to 1; the factor then stays 1 until ``hold * total_steps``
    and decays (``shape``: ``"cosine"``, ``"linear"`` or ``"constant"`` for none) to ``final`` at
    ``total_steps`` (and stays there beyond).
    """
    check_int(step, "step", 0)
    _check(total_steps, shape, hold, warmup, final)
    return _factor(step, total_steps, shape, hold, warmup, final)


def _check(total_steps: int, shape: str, hold: float, warmup: int, final: float) -> None:
    check_int(total_steps, "total_steps", 1)
    check_choice(shape, "shape", SHAPES)
    check_number(hold, "hold", 0.0, maximum=1.0)
    check_int(warmup, "warmup", 0)
    check_number(final, "final", 0.0, maximum=1.0)


def _factor(step: int, total_steps: int, shape: str, hold: float, warmup: int, final: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    if shape == "constant":
        return 1.0
    start = max(hold * total_steps, warmup)
    if step <= start or total_steps <= start:
        return 1.0
    progress = min((step - start) / (total_steps - start), 1.0)
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if shape == "cosine" else 1.0 - progress
    return final + (1.0 - final) * decay


def lr_schedule(optimizer: torch.optim.Optimizer, total_steps: int, *, shape: str = "cosine", hold: float = 0.0,
                warmup: int = 0, final: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """Lecture 1. A ``LambdaLR`` that applies :func:`lr_factor` to every group of ``optimizer``.

    Call its ``step()`` once per unit the schedule counts (optimizer steps, or epochs in
    lecture 4); :func:`course_lib.train.fit` steps a ``scheduler=`` after every optimizer step.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"lr_schedule needs a torch optimizer, got {type(optimizer).__name__}")
    _check(total_steps, shape, hold, warmup, final)   # once, here: the factor runs every step

    def factor(step: int) -> float:
        return _factor(step, total_steps, shape, hold, warmup, final)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
