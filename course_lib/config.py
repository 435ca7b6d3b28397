"""Run configuration shared by every lecture: quick vs full mode, device choice, seeding.

Introduced in lecture 1 and used by all lectures. Nothing here sets global torch state
(no default device or dtype): callers pass the device they get from :func:`get_device`.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

#: The one environment switch that turns on quick mode (CI, smoke runs).
QUICK_ENV = "COURSE_QUICK"
_TRUE = {"1", "true", "yes", "on"}

#: The repository root (the folder that holds ``course_lib/``).
REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_quick() -> bool:
    """True when ``COURSE_QUICK`` is set to 1/true/yes/on (small budgets, same cells)."""
    return _env_flag(QUICK_ENV)


def pick(full: T, quick: T) -> T:
    """Return ``full`` normally and ``quick`` in quick mode.

    Notebooks use it for every budget, e.g. ``epochs = pick(full=12, quick=2)``.
    """
    return quick if is_quick() else full


def mode_name() -> str:
    """``"quick"`` or ``"full"``: used in checkpoint names so the two modes never mix."""
    return "quick" if is_quick() else "full"


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the best available device: CUDA, then Apple MPS, then CPU.

    ``prefer`` (or the ``COURSE_DEVICE`` environment variable) forces one, e.g. ``"cpu"``.
    The result is returned, never installed as a global default.
    """
    choice = prefer or os.environ.get("COURSE_DEVICE")
    if choice:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"Device {choice!r} was requested but CUDA is not available here.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"Device {choice!r} was requested but Apple MPS is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def module_device(module: torch.nn.Module) -> torch.device:
    """The device a module's parameters live on (the CPU for a module without parameters)."""
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch so CPU runs repeat exactly; returns a seeded CPU generator."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def describe_run(device: torch.device | None = None) -> str:
    """One line for the top of each notebook: mode, device, torch version, thread count."""
    device = device or get_device()
    return (f"mode={mode_name()} device={device} torch={torch.__version__} "
            f"threads={torch.get_num_threads()}")
