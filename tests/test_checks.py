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


# ---- whose code is it? origin and run_name -----------------------------------------------------------

def _square_check(fn):
    checks.expect_close(fn(torch.tensor([2.0, 3.0])), torch.tensor([4.0, 9.0]), "square(x)")


def _pair():
    """A fresh (good student, unfinished student, reference) triple: origins are per object."""
    def good(x):
        return x * x

    def unfinished(x):
        raise NotImplementedError()

    def reference(x):
        return x ** 2

    return good, unfinished, reference


def test_origin_says_whose_code_use_if_passes_returned(capsys):
    good, _, reference = _pair()
    chosen = checks.use_if_passes("square", good, reference, _square_check)
    assert chosen is good and checks.origin(chosen) == "student"
    _, other_unfinished, other_reference = _pair()
    fallback = checks.use_if_passes("square", other_unfinished, other_reference, _square_check)
    assert fallback is other_reference and checks.origin(fallback) == "reference"
    with pytest.raises(ValueError, match="not returned by checks.use_if_passes"):
        checks.origin(other_unfinished)          # passed in, but never returned
    with pytest.raises(ValueError, match="not returned by checks.use_if_passes"):
        checks.origin(lambda x: x)               # never seen at all


def test_a_wrong_student_answer_falls_back_to_the_reference(capsys):
    _, _, reference = _pair()

    def wrong(x):
        return x + x

    assert checks.use_if_passes("square", wrong, reference, _square_check) is reference
    assert checks.origin(reference) == "reference"
    out = capsys.readouterr().out
    assert out.startswith("❌ square") and "reference implementation" in out


def test_run_name_has_one_letter_per_piece_in_order(capsys):
    block, _, block_reference = _pair()
    _, init_unfinished, init_reference = _pair()
    block = checks.use_if_passes("block", block, block_reference, _square_check)
    init = checks.use_if_passes("init", init_unfinished, init_reference, _square_check)
    assert checks.run_name("l5_dcgan", block, init) == "l5_dcgan-sr"
    assert checks.run_name("l5_dcgan", init, block) == "l5_dcgan-rs"
    assert checks.run_name("l5_dcgan", init, init, block) == "l5_dcgan-rrs"
    assert checks.run_name("l5_dcgan") == "l5_dcgan"
    with pytest.raises(ValueError, match="not returned"):
        checks.run_name("l5_dcgan", block, lambda x: x)          # never returned by use_if_passes
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="base"):
            checks.run_name(bad, block)


def test_run_name_works_for_classes_too(capsys):
    class Good:
        def __call__(self, x):
            return x * x

    class Reference(Good):
        pass

    chosen = checks.use_if_passes("square class", Good, Reference, lambda cls: _square_check(cls()))
    assert chosen is Good and checks.run_name("run", chosen) == "run-s"


# ---- helpers shared by the exercise checks ------------------------------------------------------------

def test_seeded_is_a_fixed_cpu_generator():
    assert torch.equal(torch.rand(3, generator=checks.seeded(4)), torch.rand(3, generator=checks.seeded(4)))
    assert not torch.equal(torch.rand(3, generator=checks.seeded(4)), torch.rand(3, generator=checks.seeded(5)))


def test_as_tensor_and_expect_scalar_tensor():
    t = torch.ones(2)
    assert checks.as_tensor(t, "x") is t
    assert checks.as_tensor(3, "x").dtype == torch.float32 and float(checks.as_tensor(2.5, "x")) == 2.5
    for bad in ("3", True, [1.0]):
        with pytest.raises(checks.CheckFailed, match="should be a tensor"):
            checks.as_tensor(bad, "x")
    loss = torch.tensor(1.5)
    assert checks.expect_scalar_tensor(loss, "the loss") is loss
    with pytest.raises(checks.CheckFailed, match="scalar tensor"):
        checks.expect_scalar_tensor(1.5, "the loss")
    with pytest.raises(checks.CheckFailed, match="average over it"):
        checks.expect_scalar_tensor(torch.ones(3), "the loss")


def test_matches_is_a_quiet_comparison():
    expected = torch.tensor([1.0, 2.0])
    assert checks.matches(torch.tensor([1.0, 2.0 + 1e-8]), expected)
    assert checks.matches([1.0, 2.0], expected)
    assert not checks.matches(torch.tensor([1.0, 2.1]), expected)
    assert not checks.matches(torch.tensor([[1.0, 2.0]]), expected)     # shape counts
    assert not checks.matches("abc", expected) and not checks.matches(None, expected)


def test_built_module_and_call_module():
    layer = checks.built_module(torch.nn.Linear, 3, 2, name="make")
    assert isinstance(layer, torch.nn.Linear)
    with pytest.raises(checks.CheckFailed, match="returned None \\(did you forget the return\\?\\)"):
        checks.built_module(lambda d: None, 4, name="mlp_encoder")
    with pytest.raises(checks.CheckFailed, match=r"mlp_encoder\(4, bias=False\) returned a list"):
        checks.built_module(lambda d, bias: [d], 4, name="mlp_encoder", bias=False)
    assert checks.call_module(layer, torch.ones(5, 3), "the layer", "hint").shape == (5, 2)
    with pytest.raises(checks.CheckFailed, match=r"shape \(5, 4\) failed .*Flatten first"):
        checks.call_module(layer, torch.ones(5, 4), "the layer", "Flatten first.")


def test_leaf_modules_and_first_index():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    leaves = checks.leaf_modules(model)
    assert [type(m).__name__ for m in leaves] == ["Linear", "ReLU", "Linear"]
    assert checks.first_index(leaves, torch.nn.ReLU) == 1
    assert checks.first_index(leaves, (torch.nn.Conv2d, torch.nn.Linear)) == 0
    assert checks.first_index(leaves, torch.nn.Tanh) == -1
