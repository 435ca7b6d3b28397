"""Exercise checks with specific feedback, and the switch from reference code to the student's.

Introduced in lecture 1; every lecture's check cells use it. A check never ends in a bare
traceback: it prints one verdict line per exercise,

* ``✅ passed``: later cells use the student's code;
* ``⏳ not done yet``: the stub still raises ``NotImplementedError``; the lecture goes on with the
  library's reference implementation, named in a one-line note;
* ``❌`` with what is wrong (shape, sign, an offset, a factor, the line that raised).

With ``COURSE_STRICT_CHECKS=1`` (the test command sets it for ``solutions/``) a check that does
not pass raises, so a broken solution can never hide behind the reference implementation.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any, Callable, TypeVar

import torch

from .config import _env_flag

F = TypeVar("F", bound=Callable[..., Any])
STRICT_ENV = "COURSE_STRICT_CHECKS"


class CheckFailed(AssertionError):
    """Raised inside a check with a message meant for the student."""


def _tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        return torch.as_tensor(value)
    except Exception:
        raise CheckFailed(f"{what} should be a tensor (or a number), but it is a {type(value).__name__}.") from None


def expect_shape(actual: Any, expected_shape: tuple[int, ...], what: str) -> None:
    """Fail with the two shapes (and a hint when they are the same numbers reordered)."""
    actual_t = _tensor(actual, what)
    if tuple(actual_t.shape) != tuple(expected_shape):
        hint = ""
        if sorted(actual_t.shape) == sorted(expected_shape):
            hint = " The same sizes in another order: a transpose or permute is missing or extra."
        elif actual_t.numel() == torch.Size(expected_shape).numel():
            hint = " Same number of elements: check your reshape/view."
        raise CheckFailed(f"{what} has shape {tuple(actual_t.shape)}, expected {tuple(expected_shape)}.{hint}")


def expect_close(actual: Any, expected: Any, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Compare numbers or tensors; on a mismatch, say *how* they differ (sign, offset, factor)."""
    a = _tensor(actual, what).double()
    e = _tensor(expected, "the expected value").double()
    expect_shape(a, tuple(e.shape), what)
    if not torch.isfinite(a).all():
        raise CheckFailed(f"{what} contains NaN or inf (look for log(0), 0/0 or exp of a large number).")
    if torch.allclose(a, e, atol=atol, rtol=rtol):
        return
    if torch.allclose(-a, e, atol=atol, rtol=rtol):
        raise CheckFailed(f"{what} has the wrong sign: you return the negative of the expected value.")
    diff = a - e
    if a.numel() > 1 and torch.allclose(diff, diff.flatten()[0].expand_as(diff), atol=atol, rtol=rtol):
        raise CheckFailed(f"{what} is off by a constant {float(diff.flatten()[0]):.4g} everywhere.")
    nonzero = e.abs() > 1e-8
    if nonzero.any():
        ratio = a[nonzero] / e[nonzero]
        if torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-4) and abs(float(ratio[0]) - 1) > rtol:
            raise CheckFailed(f"{what} is {float(ratio[0]):.4g} times the expected value "
                              f"(a missing or extra factor: a mean vs a sum, a 1/2, a batch size?).")
    worst = int(diff.abs().flatten().argmax())
    raise CheckFailed(f"{what} differs from the expected value: largest error {float(diff.abs().max()):.4g} "
                      f"at flat index {worst} (got {float(a.flatten()[worst]):.6g}, "
                      f"expected {float(e.flatten()[worst]):.6g}).")


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    """Exact comparison for ints, tuples, shapes and other plain values."""
    if actual != expected:
        raise CheckFailed(f"{what} is {actual!r}, expected {expected!r}.")


def _where_it_raised(error: BaseException) -> str:
    """The student's line that raised, from the traceback's notebook frames (not library frames)."""
    frames = traceback.extract_tb(error.__traceback__)
    notebook = [f for f in frames if "ipykernel" in f.filename or f.filename.startswith("<")]
    frame = (notebook or frames or [None])[-1]
    if frame is None:
        return ""
    return f" (line {frame.lineno}: `{(frame.line or '').strip()}`)"


def check(exercise: str, test: Callable[[], None]) -> bool:
    """Run one exercise's test and print a one-line verdict; return whether it passed."""
    try:
        test()
    except NotImplementedError:
        verdict, passed = f"⏳ {exercise}: not done yet. Fill in the cell above and run this check again.", False
    except CheckFailed as failure:
        verdict, passed = f"❌ {exercise}: {failure}", False
    except Exception as error:  # the student's code crashed: say where, without a traceback
        verdict, passed = (f"❌ {exercise}: your code raised {type(error).__name__}: {error}"
                           f"{_where_it_raised(error)}"), False
    else:
        verdict, passed = f"✅ {exercise}: passed.", True
    print(verdict)
    sys.stdout.flush()
    if not passed and _env_flag(STRICT_ENV):
        raise AssertionError(f"{STRICT_ENV}=1 and the check did not pass: {verdict}")
    return passed


def use_if_passes(exercise: str, student: F, reference: F, test: Callable[[F], None]) -> F:
    """Check ``student`` with ``test(student)``; return it if it passes, else ``reference``.

    Later cells call whatever this returns, so a finished exercise is used from then on and an
    unfinished one never blocks the lecture.
    """
    if check(exercise, lambda: test(student)):
        return student
    name = f"{reference.__module__}.{getattr(reference, '__qualname__', reference)}"
    print(f"   The cells below use the reference implementation {name} until this check passes.")
    return reference
