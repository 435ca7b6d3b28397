"""Exercise checks with specific feedback, and the switch from reference code to the student's.

Every lecture's check cells use this module. A check never ends in a bare traceback: it prints
one verdict line per exercise,

* ``✅ passed``: later cells use the student's code;
* ``⏳ not done yet``: the stub still raises ``NotImplementedError``; the lecture goes on with the
  library's reference implementation, named in a one-line note;
* ``❌`` with what is wrong (shape, sign, an offset, a factor, the line that raised).

With ``COURSE_STRICT_CHECKS=1`` (the test command sets it for ``solutions/``) a check that does
not pass raises, so a broken solution can never hide behind the reference implementation.

:func:`use_if_passes` remembers whether it returned the student's code or the reference, and
:func:`run_name` puts that into checkpoint names: a model trained with a student's function is
never reused for the reference, or the other way round.

The second half holds the small helpers the tests in ``course_lib/exercises/`` share.
"""
from __future__ import annotations

import contextlib
import functools
import io
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any, Callable, TypeVar

import torch
from torch import nn

from .config import flag, setting

F = TypeVar("F", bound=Callable[..., Any])

STUDENT, REFERENCE = "student", "reference"
# id(object) -> (object, "student" | "reference"); the object is kept so that its id stays unique.
_ORIGINS: dict[int, tuple[object, str]] = {}


class CheckFailed(AssertionError):
    """Lecture 1. Raised inside a check with a message meant for the student."""


#: Seconds one check may run (``COURSE_CHECK_SECONDS`` overrides it): student code that loops forever is stopped.
CHECK_SECONDS = 120.0
#: Characters of what the student's code prints during a check that are shown; the rest is only counted.
MAX_PRINTED = 2000


class CheckTimedOut(BaseException):
    """Lecture 1. The check ran past its time limit. A BaseException, so that a student's ``except Exception`` in an
    endless loop cannot swallow it."""


class _CappedOutput(io.StringIO):
    """Keeps the first ``MAX_PRINTED`` characters written to it and counts the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def write(self, text: str) -> int:
        room = MAX_PRINTED - self.tell()
        if room > 0:
            super().write(text[:room])
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def report(self) -> str:
        shown = self.getvalue()
        if self.dropped:
            shown = shown.rstrip("\n") + f"\n... ({self.dropped:,} more characters printed by your code, not shown)\n"
        return shown


def _check_seconds() -> float:
    value = setting("COURSE_CHECK_SECONDS")
    try:
        return float(value) if value is not None else CHECK_SECONDS
    except ValueError:
        raise ValueError(f"COURSE_CHECK_SECONDS must be a number of seconds, got {value!r}") from None


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CheckTimedOut` in the main thread after ``seconds`` (POSIX timers; elsewhere no limit)."""
    usable = seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise CheckTimedOut()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def expect_shape(actual: Any, expected_shape: tuple[int, ...], what: str) -> None:
    """Lecture 1. Fail with the two shapes (and a hint when they are the same numbers reordered)."""
    actual_t = _tensor(actual, what)
    if tuple(actual_t.shape) != tuple(expected_shape):
        hint = ""
        if sorted(actual_t.shape) == sorted(expected_shape):
            hint = " The same sizes in another order: a transpose or permute is missing or extra."
        elif actual_t.numel() == torch.Size(expected_shape).numel():
            hint = " Same number of elements: check your reshape/view."
        raise CheckFailed(f"{what} has shape {tuple(actual_t.shape)}, expected {tuple(expected_shape)}.{hint}")


def expect_close(actual: Any, expected: Any, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Lecture 1. Compare numbers or tensors; on a mismatch, say *how* they differ (sign, offset, factor)."""
    if isinstance(actual, torch.Tensor) and isinstance(expected, torch.Tensor):
        if actual.requires_grad and actual.grad_fn is None and not expected.requires_grad:
            raise CheckFailed(f"{what} requires grad but comes from no computation on the inputs (a leaf made "
                              f"with requires_grad=True?): return the result of operations on the inputs.")
        low = (torch.float16, torch.bfloat16)
        if actual.dtype in low and expected.dtype not in low:
            raise CheckFailed(f"{what} has dtype {actual.dtype}, expected {expected.dtype}: do not lower the "
                              f"precision (a .half() or a tensor created with another dtype).")
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
    """Lecture 1. Exact comparison for ints, tuples, shapes and other plain values."""
    if actual != expected:
        raise CheckFailed(f"{what} is {actual!r}, expected {expected!r}.")


def _expect_cpu(value: torch.Tensor, what: str) -> None:
    """The checks feed CPU tensors: an answer elsewhere (another device, or a ``meta`` tensor without data) is wrong."""
    if value.device.type == "meta":
        raise CheckFailed(f"{what} is a 'meta' tensor, which has a shape but no values: compute it from the inputs.")
    if value.device.type != "cpu":
        raise CheckFailed(f"{what} is on the device {value.device}, but the inputs were on the CPU: create new "
                          f"tensors on the inputs' device (device=x.device, or torch.zeros_like(x)), never a fixed one.")


def _tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        _expect_cpu(value, what)
        return value.detach()
    try:
        return torch.as_tensor(value)
    except Exception:
        raise CheckFailed(f"{what} should be a tensor (or a number), but it is a {type(value).__name__}.") from None


def _where_it_raised(error: BaseException) -> str:
    """The student's line that raised, from the traceback's notebook frames (not library frames)."""
    frames = traceback.extract_tb(error.__traceback__)
    notebook = [f for f in frames if "ipykernel" in f.filename or f.filename.startswith("<")]
    frame = (notebook or frames or [None])[-1]
    if frame is None:
        return ""
    return f" (line {frame.lineno}: `{(frame.line or '').strip()}`)"


def check(exercise: str, test: Callable[[], None]) -> bool:
    """Lecture 1. Run one exercise's test and print a one-line verdict; return whether it passed.

    What the student's code prints during the test is shown first, cut after ``MAX_PRINTED``
    characters. A test that runs longer than ``COURSE_CHECK_SECONDS`` (default ``CHECK_SECONDS``)
    is stopped with a ⏳ verdict; code that calls ``exit()`` gets a ❌ instead of ending the kernel. Ctrl-C
    still interrupts.
    """
    seconds = _check_seconds()
    printed = _CappedOutput()
    try:
        with _time_limit(seconds), contextlib.redirect_stdout(printed):
            test()
    except CheckTimedOut:
        verdict, passed = (f"⏳ {exercise}: stopped after {seconds:g} s without finishing. Is there a loop that never "
                           f"ends (a while whose condition never changes)? Fix the cell above and run this check "
                           f"again."), False
    except NotImplementedError:
        verdict, passed = f"⏳ {exercise}: not done yet. Fill in the cell above and run this check again.", False
    except CheckFailed as failure:
        verdict, passed = f"❌ {exercise}: {failure}", False
    except SystemExit:
        verdict, passed = (f"❌ {exercise}: your code called exit() (SystemExit); return a value instead of "
                           f"stopping Python."), False
    except Exception as error:  # the student's code crashed: say where, without a traceback
        message = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        verdict, passed = (f"❌ {exercise}: your code raised {type(error).__name__}: {message}"
                           f"{_where_it_raised(error)}"), False
    else:
        verdict, passed = f"✅ {exercise}: passed.", True
    if printed.tell():
        print(printed.report(), end="")
    print(verdict)
    sys.stdout.flush()
    if not passed and flag("COURSE_STRICT_CHECKS"):
        raise AssertionError(f"COURSE_STRICT_CHECKS=1 and the check did not pass: {verdict}")
    return passed


def _changed(before: torch.Tensor, after: torch.Tensor) -> bool:
    if before.shape != after.shape or before.dtype != after.dtype:
        return True
    both_nan = torch.isnan(before) & torch.isnan(after) if before.is_floating_point() else False
    return bool(((before != after) & ~both_nan).any()) if before.numel() else False


def _guard_inputs(student: F) -> F:
    """``student``, failing the check when a call changes one of its tensor arguments in place.

    Classes (modules the student builds) and non-callables pass through unchanged; so do calls
    whose arguments are modules or optimizers, which some exercises must update in place.
    """
    if isinstance(student, type) or not callable(student):
        return student

    @functools.wraps(student)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor) and a.device.type != "meta"]
        before = [t.detach().clone() for t in tensors]
        result = student(*args, **kwargs)
        outputs = result if isinstance(result, (tuple, list)) else (result,)
        for out in outputs:
            if (isinstance(out, torch.Tensor) and out.requires_grad and out.grad_fn is None
                    and not any(out is t for t in tensors)):
                raise CheckFailed("your function returns a tensor that requires grad but comes from no computation "
                                  "(made with requires_grad=True or .requires_grad_()): return results computed "
                                  "from the inputs, and .detach() what must not carry gradients.")
        for position, (t, copy) in enumerate(zip(tensors, before)):
            if _changed(copy, t.detach()):
                raise CheckFailed(f"your function changed its tensor argument number {position + 1} in place "
                                  f"(an operation ending in _, x[...] = ..., or +=): the caller still needs its "
                                  f"inputs, so compute the result in new tensors.")
        return result

    return guarded  # type: ignore[return-value]


def use_if_passes(exercise: str, student: F, reference: F, test: Callable[[F], None]) -> F:
    """Lecture 1. Check ``student`` with ``test(student)``; return it if it passes, else ``reference``.

    Later cells call whatever this returns, so a finished exercise is used from then on and an
    unfinished one never blocks the lecture. Which of the two was returned is recorded
    (:func:`origin`, :func:`run_name`).
    """
    if check(exercise, lambda: test(_guard_inputs(student))):
        _ORIGINS[id(student)] = (student, STUDENT)
        return student
    _ORIGINS[id(reference)] = (reference, REFERENCE)
    name = f"{reference.__module__}.{getattr(reference, '__qualname__', reference)}"
    print(f"   The cells below use the reference implementation {name} until this check passes.")
    return reference


def origin(code: object) -> str:
    """Lecture 1. ``"student"`` or ``"reference"``: what :func:`use_if_passes` returned ``code`` as.

    Raises ``ValueError`` for an object that no :func:`use_if_passes` call returned.
    """
    entry = _ORIGINS.get(id(code))
    if entry is None or entry[0] is not code:
        raise ValueError(f"{getattr(code, '__qualname__', code)!r} was not returned by checks.use_if_passes, "
                         f"so whose code it is is unknown")
    return entry[1]


def run_name(base: str, *code: object) -> str:
    """Lecture 1. A checkpoint name that says whose code trained the run: ``base`` + one letter per piece.

    Each of ``code`` (functions or classes returned by :func:`use_if_passes`) adds ``s`` (the
    student's) or ``r`` (the reference): ``run_name("l5_dcgan", block, init)`` is
    ``"l5_dcgan-sr"`` when the block is the student's and the initialization the reference.
    Without ``code`` it is ``base``.
    """
    if not isinstance(base, str) or not base:
        raise ValueError(f"base must be a non-empty string, got {base!r}")
    if not code:
        return base
    return base + "-" + "".join("s" if origin(c) == STUDENT else "r" for c in code)


# --------------------------------------------------------------------------------------------
# Helpers shared by the tests in course_lib/exercises/
# --------------------------------------------------------------------------------------------


def seeded(seed: int) -> torch.Generator:
    """Lecture 1. A CPU generator seeded with ``seed`` (fixed test inputs)."""
    return torch.Generator().manual_seed(seed)


def as_tensor(value: object, what: str) -> torch.Tensor:
    """Lecture 2. ``value`` itself if it is a tensor, a float tensor for a plain number, else a ``CheckFailed``."""
    if isinstance(value, torch.Tensor):
        _expect_cpu(value, what)
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value))
    raise CheckFailed(f"{what} should be a tensor, but it is a {type(value).__name__}.")


def expect_scalar_tensor(value: object, what: str) -> torch.Tensor:
    """Lecture 4. ``value`` must be a 0-d tensor (a loss that ``.backward()`` works on)."""
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{what} should be a scalar tensor (so that .backward() works), got {type(value).__name__}.")
    _expect_cpu(value, what)
    expect_shape(value, (), f"{what} (one number for the whole batch: average over it)")
    return value


def matches(actual: object, expected: torch.Tensor, atol: float = 1e-6) -> bool:
    """Lecture 4. Quietly: is ``actual`` a tensor (or number) of ``expected``'s shape and value?"""
    if isinstance(actual, torch.Tensor) and actual.device.type != "cpu":
        return False
    try:
        a = torch.as_tensor(actual.detach() if isinstance(actual, torch.Tensor) else actual, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    e = expected.detach().double()
    return a.shape == e.shape and bool(torch.allclose(a, e, atol=atol, rtol=1e-5))


def built_module(make: Callable[..., object], *args: object, name: str = "your function",
                 **kwargs: object) -> nn.Module:
    """Lecture 2. ``make(*args, **kwargs)``, which must return an ``nn.Module``; else a ``CheckFailed``."""
    module = make(*args, **kwargs)
    call = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    if not isinstance(module, nn.Module):
        got = "None (did you forget the return?)" if module is None else f"a {type(module).__name__}"
        raise CheckFailed(f"{name}({call}) returned {got}; return an nn.Module such as nn.Sequential(layer, ...).")
    return module


def call_module(module: nn.Module, x: torch.Tensor, what: str, hint: str) -> torch.Tensor:
    """Lecture 2. ``module(x)``; a shape error inside becomes a ``CheckFailed`` with ``hint``."""
    try:
        return module(x)
    except (RuntimeError, ValueError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckFailed(f"calling {what} on an input of shape {tuple(x.shape)} failed ({first_line}). {hint}") from None


def leaf_modules(module: nn.Module) -> list[nn.Module]:
    """Lecture 5. The layers of ``module`` that have no children, in order."""
    return [m for m in module.modules() if not list(m.children())]


def first_index(layers: list[nn.Module], kind: type | tuple[type, ...]) -> int:
    """Lecture 5. Index of the first layer of type ``kind`` in ``layers``, or -1."""
    return next((i for i, m in enumerate(layers) if isinstance(m, kind)), -1)
