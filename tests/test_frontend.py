"""course_lib.frontend.why_no_widgets: every reason, in order, with a faked Jupyter kernel where needed."""
from __future__ import annotations

import sys
import types

import pytest

from course_lib import frontend


class _Kernel:
    """Stands in for IPython's shell inside a Jupyter kernel (it has a ``kernel`` attribute)."""

    kernel = object()


@pytest.fixture
def in_a_kernel(monkeypatch):
    """A Jupyter kernel whose parent process is ``parent`` (set ``state["parent"]``), no Agg backend."""
    ipython = pytest.importorskip("IPython")
    monkeypatch.setitem(sys.modules, "ipywidgets", sys.modules.get("ipywidgets") or types.ModuleType("ipywidgets"))
    monkeypatch.setattr(ipython, "get_ipython", lambda: _Kernel())
    monkeypatch.delenv("MPLBACKEND", raising=False)
    state = {"parent": b"/usr/bin/python3\x00-m\x00jupyterlab\x00"}

    class FakePath:
        def __init__(self, path):
            assert str(path).startswith("/proc/") and str(path).endswith("/cmdline")

        def read_bytes(self):
            if isinstance(state["parent"], Exception):
                raise state["parent"]
            return state["parent"]

    monkeypatch.setattr(frontend, "Path", FakePath)
    return state


def test_widgets_in_jupyterlab(in_a_kernel):
    assert frontend.why_no_widgets() is None


def test_the_static_switch_comes_first(in_a_kernel, monkeypatch):
    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    assert frontend.why_no_widgets() == "COURSE_STATIC_WIDGETS is set"
    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "0")
    assert frontend.why_no_widgets() is None


def test_quick_mode_keeps_the_widgets_it_only_shrinks_budgets(in_a_kernel, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert frontend.why_no_widgets() is None
    monkeypatch.setenv("MPLBACKEND", "Agg")                 # what every course tool that executes notebooks sets
    assert frontend.why_no_widgets() == "headless run (the Agg backend)"


def test_the_agg_backend_is_headless(in_a_kernel, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert frontend.why_no_widgets() == "headless run (the Agg backend)"


@pytest.mark.parametrize("runner", ["nbconvert", "nbval", "pytest", "nbclient", "papermill"])
def test_a_kernel_started_by_a_notebook_runner(in_a_kernel, runner):
    in_a_kernel["parent"] = f"/usr/bin/python3\x00-m\x00{runner}\x00--execute\x00nb.ipynb".encode()
    assert frontend.why_no_widgets() == f"executed by {runner}"


def test_an_unreadable_parent_counts_as_a_frontend(in_a_kernel):
    in_a_kernel["parent"] = PermissionError("no /proc here")
    assert frontend.why_no_widgets() is None


def test_not_in_a_kernel(monkeypatch):
    ipython = pytest.importorskip("IPython")
    monkeypatch.setitem(sys.modules, "ipywidgets", sys.modules.get("ipywidgets") or types.ModuleType("ipywidgets"))
    monkeypatch.setattr(ipython, "get_ipython", lambda: None)
    assert frontend.why_no_widgets() == "not running in a Jupyter kernel"
    monkeypatch.setattr(ipython, "get_ipython", lambda: object())     # a terminal IPython has no kernel
    assert frontend.why_no_widgets() == "not running in a Jupyter kernel"
    monkeypatch.setenv("COURSE_QUICK", "1")                            # the kernel is asked about before quick mode
    assert frontend.why_no_widgets() == "not running in a Jupyter kernel"


def test_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)               # makes the import fail
    assert frontend.why_no_widgets() == "ipywidgets is not installed"


def test_under_pytest_there_is_never_a_frontend():
    assert frontend.why_no_widgets() is not None
