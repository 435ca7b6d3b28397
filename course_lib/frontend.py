"""Is there a widget frontend? Interactive widgets where one runs, a static figure everywhere else.

JupyterLab and Colab render ipywidgets; a notebook executed by nbval, nbconvert or papermill has
no frontend, and a widget there shows nothing. Functions that offer sliders ask
:func:`why_no_widgets` first and draw a static fallback when it gives a reason.
"""
from __future__ import annotations

import os
from pathlib import Path

from .config import flag

_RUNNERS = ("nbconvert", "nbval", "pytest", "nbclient", "papermill")


def why_no_widgets() -> str | None:
    """Lecture 3. Why interactive widgets cannot be shown here, or ``None`` when they probably can.

    Reasons, in order: ``COURSE_STATIC_WIDGETS`` is on; ipywidgets is not installed; not running
    in a Jupyter kernel; the headless Agg backend (every course tool that executes notebooks sets
    it); the kernel was started by a notebook runner (nbconvert, nbval, pytest, nbclient, papermill).
    Quick mode is not a reason: it shrinks budgets only, and JupyterLab in quick mode shows sliders.
    """
    if flag("COURSE_STATIC_WIDGETS"):
        return "COURSE_STATIC_WIDGETS is set"
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return "ipywidgets is not installed"
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return "not running in a Jupyter kernel"
    if os.environ.get("MPLBACKEND", "").lower() == "agg":
        return "headless run (the Agg backend)"
    try:  # a kernel started by a notebook runner has no widget frontend
        parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode(errors="ignore")
    except OSError:
        return None
    runner = next((word for word in _RUNNERS if word in parent), None)
    return f"executed by {runner}" if runner else None
