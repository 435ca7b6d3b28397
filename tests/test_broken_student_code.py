"""Every exercise check against a battery of broken implementations (issue 12, part 4).

The pairs (reference, check) are read from the solution notebooks' ``use_if_passes`` calls, so a new
exercise joins the battery by itself. Each fault wraps the reference: it returns None, raises, loops
forever, prints a flood and returns None, calls exit(), or returns the reference's answer with NaN in
it, another shape, another dtype, on another device (``meta``), requiring grad where the reference's
answer does not, or after modifying its input in place. For every (check x fault) pair the verdict
must be ❌ or ⏳ with a message, never a traceback or ✅, the printed flood must be cut, and
``use_if_passes`` must hand back the reference. Faults that do not apply (no tensor to change) are
skipped and counted.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib import checks

ROOT = Path(__file__).resolve().parents[1]
PROBE_SECONDS = "1"   # a fault that loops forever is stopped after this long


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _exercises() -> list[tuple[str, object, object]]:
    """(exercise name, reference, check) for every use_if_passes call in the solution notebooks."""
    found = []
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        cells = _code_cells(path)
        namespace: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(cells[1], f"{path.name}: imports", "exec"), namespace)  # noqa: S102 (the import cell)
        for source in cells:
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "use_if_passes":
                    name = ast.literal_eval(node.args[0])
                    reference = eval(ast.get_source_segment(source, node.args[2]), namespace)
                    check = eval(ast.get_source_segment(source, node.args[3]), namespace)
                    found.append((f"{path.stem}: {name}", reference, check))
    return found


EXERCISES = _exercises()


def _map_tensors(value, fn):
    """``value`` with ``fn`` applied to its tensors (in tuples, lists, dicts and a module's outputs); None if none."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, nn.Module):
        value.register_forward_hook(lambda module, inputs, output: _map_tensors(output, fn) or output)
        return value
    if isinstance(value, (tuple, list)):
        mapped = [_map_tensors(v, fn) for v in value]
        if all(m is None for m in mapped):
            return None
        return type(value)(m if m is not None else v for m, v in zip(mapped, value))
    if isinstance(value, dict):
        mapped = {k: _map_tensors(v, fn) for k, v in value.items()}
        if all(m is None for m in mapped.values()):
            return None
        return {k: mapped[k] if mapped[k] is not None else v for k, v in value.items()}
    return None


class NotApplicable(Exception):
    pass


def _output_fault(fn):
    def make(reference):
        def broken(*args, **kwargs):
            out = _map_tensors(reference(*args, **kwargs), fn)
            if out is None:
                raise NotApplicable
            return out
        return broken
    return make


def _nan(t):
    return t * float("nan") if t.is_floating_point() else t.double() * float("nan")


def _requires_grad(t):
    if t.requires_grad or not t.is_floating_point():
        raise NotApplicable
    return t.detach().clone().requires_grad_()


def _in_place(reference):
    def broken(*args, **kwargs):
        tensors = [a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
        if not tensors:
            raise NotApplicable
        with torch.no_grad():
            tensors[0].mul_(2.0)
        return reference(*args, **kwargs)
    return broken


def _forever(reference):
    def broken(*args, **kwargs):
        while True:
            pass
    return broken


def _chatty(reference):
    def broken(*args, **kwargs):
        for i in range(20_000):
            print(f"debugging line {i}")
    return broken


def _raises(reference):
    def broken(*args, **kwargs):
        raise ValueError("an honest bug")
    return broken


def _exits(reference):
    def broken(*args, **kwargs):
        sys.exit(1)
    return broken


FAULTS = {
    "returns None": lambda reference: (lambda *a, **k: None),
    "raises": _raises,
    "runs forever": _forever,
    "prints a lot": _chatty,
    "calls exit()": _exits,
    "NaN": _output_fault(_nan),
    "wrong shape": _output_fault(lambda t: t.unsqueeze(0)),
    "wrong dtype": _output_fault(lambda t: t.half() if t.is_floating_point() else t.double() + 0.5),
    "another device": _output_fault(lambda t: t.to("meta")),
    "requires grad": _output_fault(_requires_grad),
    "modifies its input": _in_place,
}


def _run(exercise, reference, check_fn, fault):
    """The verdict check() prints for ``fault`` and what came back from use_if_passes (or NotApplicable)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        chosen = checks.use_if_passes(exercise, fault, reference, check_fn)
    return out.getvalue(), chosen


def test_the_battery_covers_every_exercise():
    assert len(EXERCISES) >= 30, [e[0] for e in EXERCISES]


@pytest.mark.parametrize("fault_name", list(FAULTS))
def test_every_check_rejects_every_fault_with_a_message(fault_name, monkeypatch):
    monkeypatch.setenv("COURSE_CHECK_SECONDS", PROBE_SECONDS)
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)
    passed, tracebacks, not_applicable = [], [], 0
    for exercise, reference, check_fn in EXERCISES:
        fault = FAULTS[fault_name](reference)
        printed, chosen = _run(exercise, reference, check_fn, fault)
        if "NotApplicable" in printed:
            not_applicable += 1
            continue
        verdict = [line for line in printed.splitlines() if line.startswith(("✅", "❌", "⏳"))][-1]
        if "Traceback (most recent call last)" in printed:
            tracebacks.append(exercise)
        if not verdict.startswith(("❌", "⏳")) or chosen is not reference:
            passed.append(f"{exercise}: {verdict}")
            continue
        assert len(printed) < checks.MAX_PRINTED + 1000, f"{exercise}: {len(printed)} characters printed"
        assert len(verdict) > len(exercise) + 20, f"{exercise}: the verdict says too little: {verdict}"
    print(f"{fault_name}: {len(EXERCISES) - not_applicable} checks tried, {not_applicable} not applicable")
    assert not tracebacks, tracebacks
    assert not passed, "\n".join(passed)
