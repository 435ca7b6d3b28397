"""Run configuration shared by every lecture: the environment switches, quick vs full mode, device, seeding.

Every ``COURSE_*`` environment variable the course reads is declared once, in :data:`SWITCHES`, and
read through :func:`flag` or :func:`setting`; nothing else in ``course_lib`` looks at
``os.environ``. Nothing here sets global torch state (no default device or dtype): callers pass
the device they get from :func:`get_device`.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

#: The repository root (the folder that holds ``course_lib/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Switch:
    """One environment switch: its name, ``"flag"`` (on for 1/true/yes/on, off otherwise) or
    ``"value"`` (a path or a name), and what it does."""

    name: str
    kind: str
    meaning: str


#: Every environment switch of the course, in the order the README lists them.
SWITCHES: dict[str, Switch] = {s.name: s for s in (
    Switch("COURSE_QUICK", "flag", "quick mode: the same cells on small budgets (CI); 0 or unset is full mode"),
    Switch("COURSE_DATA_DIR", "value", "the dataset folder (default: datasets/ in the repository)"),
    Switch("COURSE_OFFLINE", "flag", "never try to download a dataset"),
    Switch("COURSE_MNIST_STANDIN", "flag",
           "allow the official MNIST test split to stand in for both splits when the training files are missing"),
    Switch("COURSE_CHECKPOINT_DIR", "value", "where checkpoints go (default: checkpoints/ in the repository)"),
    Switch("COURSE_RESULTS_DIR", "value", "where result checks are recorded as JSON (the benchmark reads them)"),
    Switch("COURSE_DEVICE", "value", "force a device, e.g. cpu or cuda:1"),
    Switch("COURSE_STRICT_CHECKS", "flag", "an exercise check that does not pass raises (the tests run solutions/ so)"),
    Switch("COURSE_STATIC_WIDGETS", "flag", "draw the static fallback instead of interactive widgets"),
    Switch("COURSE_CHECK_SECONDS", "value", "how long one exercise check may run before it is stopped (default 120)"),
    # Read before course_lib exists (the Colab setup cell) or by the tests only, never through flag/setting:
    Switch("COURSE_REPO_URL", "value",
           "the repository the Colab setup cell clones (default: COURSE_REPO in tools/course_meta.py)"),
    Switch("COURSE_COLAB_DIR", "value", "where the Colab setup cell clones it (default /content/course-pack)"),
    Switch("COURSE_SKIP_COLAB_SIMULATION", "flag",
           "skip tests/test_colab_setup.py (for a machine whose pip would have to download torch)"),
)}


def _switch(name: str, kind: str) -> Switch:
    switch = SWITCHES.get(name)
    if switch is None:
        raise KeyError(f"{name} is not a course switch; the switches are {sorted(SWITCHES)}")
    if switch.kind != kind:
        raise TypeError(f"{name} is a {switch.kind} switch: read it with "
                        f"{'flag' if switch.kind == 'flag' else 'setting'}()")
    return switch


def flag(name: str) -> bool:
    """Whether the flag switch ``name`` is on (1/true/yes/on, any case); unset, 0 or anything else is off."""
    _switch(name, "flag")
    return os.environ.get(name, "").strip().lower() in _TRUE


def setting(name: str) -> str | None:
    """The value of the value switch ``name``, or ``None`` when it is unset or blank."""
    _switch(name, "value")
    value = os.environ.get(name, "").strip()
    return value or None


def is_quick() -> bool:
    """True when ``COURSE_QUICK`` is on (small budgets, same cells)."""
    return flag("COURSE_QUICK")


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

    ``prefer`` (or ``COURSE_DEVICE``) forces one, e.g. ``"cpu"``. The result is returned, never
    installed as a global default.
    """
    choice = prefer or setting("COURSE_DEVICE")
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
    """The device a module's parameters (or, failing those, buffers) live on; the CPU for neither."""
    tensor = next(module.parameters(), None)
    if tensor is None:
        tensor = next(module.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch so CPU runs repeat exactly; returns a seeded CPU generator."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
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
