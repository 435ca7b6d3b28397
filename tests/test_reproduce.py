"""tools/reproduce.py: what counts as the same recorded results (the rerun itself is part of course.sh test)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import reproduce  # noqa: E402


def test_identical_results_are_the_same():
    assert reproduce.compare({"a": 1.5, "b": float("nan")}, {"a": 1.5, "b": float("nan")}, 1e-6) == (0.0, [])


def test_a_value_beyond_the_tolerance_is_reported_with_both_values():
    worst, problems = reproduce.compare({"iou": 0.9}, {"iou": 0.9 * (1 + 1e-4)}, 1e-6)
    assert 9e-5 < worst < 1.1e-4
    assert len(problems) == 1 and problems[0].startswith("iou: 0.9 vs")


def test_a_difference_within_the_tolerance_passes_but_is_measured():
    worst, problems = reproduce.compare({"x": 1.0}, {"x": 1.0 + 1e-9}, 1e-6)
    assert problems == [] and 0 < worst < 1e-8


def test_a_value_recorded_by_one_run_only_is_a_difference():
    _, problems = reproduce.compare({"x": 1.0, "y": 2.0}, {"x": 1.0}, 1e-6)
    assert problems == ["only in one run: y"]


def test_nan_against_a_number_is_a_difference():
    _, problems = reproduce.compare({"x": float("nan")}, {"x": 1.0}, 1e-6)
    assert problems and problems[0].startswith("x:")
