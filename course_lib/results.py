"""Visible result checks for notebooks, recorded for the benchmark.

A notebook states what it expects ("U-Net mean IoU >= 0.90") and proves
it in a visible cell with :func:`expect_at_least` / :func:`expect_at_most`: they print the measured
value against its bar and raise when it misses, so nbval fails on a model that did not learn.
With ``$COURSE_RESULTS_DIR`` set (the benchmark sets it), every value is also written to
``<dir>/<notebook>.json``.
"""
from __future__ import annotations

import json
import os
import math
from pathlib import Path

from .config import mode_name, setting


class ResultBelowBar(AssertionError):
    """Lecture 1. A notebook's stated result was not reached."""


def record(notebook: str, name: str, value: float) -> None:
    """Lecture 1. Store ``value`` under ``name`` for ``notebook`` in ``$COURSE_RESULTS_DIR`` (if set)."""
    folder = setting("COURSE_RESULTS_DIR")
    if not folder:
        return
    path = Path(folder) / f"{notebook}-{mode_name()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = value
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _expect(notebook: str, name: str, value: float, bar: float, at_least: bool, hint: str) -> None:
    value = float(value)
    record(notebook, name, value)
    ok = math.isfinite(value) and (value >= bar if at_least else value <= bar)
    sign = "≥" if at_least else "≤"
    print(f"{'✅' if ok else '❌'} {name} = {value:.4g}  (expected {sign} {bar:.4g}, {mode_name()} mode)")
    if not ok:
        raise ResultBelowBar(f"{name} = {value:.4g} missed its bar ({sign} {bar:.4g}). {hint}".strip())


def expect_at_least(notebook: str, name: str, value: float, bar: float, hint: str = "") -> None:
    """Lecture 1. Print ``name = value (expected >= bar)``, record it, and raise if it is lower (or NaN).

    Returns None, so a check on a cell's last line shows its printed line and no echo of the value."""
    return _expect(notebook, name, value, bar, True, hint)


def expect_at_most(notebook: str, name: str, value: float, bar: float, hint: str = "") -> None:
    """Lecture 1. Print ``name = value (expected <= bar)``, record it, and raise if it is higher (or NaN).

    Returns None, like :func:`expect_at_least`."""
    return _expect(notebook, name, value, bar, False, hint)
