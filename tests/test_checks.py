"""Exercise checks: specific feedback, not-done-yet, strict mode, switching to the student's code."""
import pytest
import torch

from course_lib import checks


@pytest.mark.parametrize("actual,fragment", [
    (-torch.tensor([1.0, 2.0, 3.0]), "wrong sign"),
    (torch.tensor([1.5, 2.5, 3.5]), "off by a constant"),
    (torch.tensor([2.0, 4.0, 6.0]), "2 times"),
    (torch.tensor([1.0, 2.0, 9.0]), "largest error"),
    (torch.tensor([1.0, float("nan"), 3.0]), "NaN"),
    (torch.tensor([[1.0, 2.0, 3.0]]), "shape"),
    ("abc", "should be a tensor"),
])
def test_expect_close_explains_the_difference(actual, fragment):
    with pytest.raises(checks.CheckFailed, match=fragment):
        checks.expect_close(actual, torch.tensor([1.0, 2.0, 3.0]), "your output")


def test_expect_close_accepts_close_values():
    checks.expect_close(torch.tensor([1.0, 2.0]) + 1e-7, torch.tensor([1.0, 2.0]), "x")
    checks.expect_close(0.5, 0.5, "a number")


def test_expect_shape_hints_at_a_transpose():
    with pytest.raises(checks.CheckFailed, match="another order"):
        checks.expect_shape(torch.zeros(3, 2), (2, 3), "x")
    with pytest.raises(checks.CheckFailed, match="reshape"):
        checks.expect_shape(torch.zeros(6), (2, 3), "x")


def test_check_verdicts(capsys):
    assert checks.check("Ex 1", lambda: None)
    assert not checks.check("Ex 2", lambda: (_ for _ in ()).throw(NotImplementedError()))
    assert not checks.check("Ex 3", lambda: checks.expect_equal(3, 4, "the size"))
    assert not checks.check("Ex 4", lambda: 1 / 0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("✅ Ex 1")
    assert lines[1].startswith("⏳ Ex 2") and "not done yet" in lines[1]
    assert lines[2].startswith("❌ Ex 3") and "the size is 3, expected 4" in lines[2]
    assert lines[3].startswith("❌ Ex 4") and "ZeroDivisionError" in lines[3] and "line" in lines[3]


def test_strict_mode_turns_a_failed_check_into_an_error(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    assert checks.check("fine", lambda: None)
    with pytest.raises(AssertionError, match="did not pass"):
        checks.check("broken", lambda: checks.expect_equal(1, 2, "x"))


def reference_square(x):
    return x * x


def test_use_if_passes_picks_the_right_function(capsys):
    def test(fn):
        checks.expect_close(fn(torch.tensor([2.0, 3.0])), torch.tensor([4.0, 9.0]), "square(x)")

    def good(x):
        return x ** 2

    def unfinished(x):
        raise NotImplementedError()

    assert checks.use_if_passes("square", good, reference_square, test) is good
    assert checks.use_if_passes("square", unfinished, reference_square, test) is reference_square
    out = capsys.readouterr().out
    assert "not done yet" in out and "reference implementation" in out and "reference_square" in out
