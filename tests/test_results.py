import json

import pytest

from course_lib import results


def test_expectations_print_record_and_fail(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    # None: a check on a cell's last line must not echo the value under its printed line
    assert results.expect_at_least("nb", "iou", 0.93, 0.9) is None
    results.expect_at_most("nb", "mse", 0.008, 0.01)
    with pytest.raises(results.ResultBelowBar, match="iou2 = 0.5 missed"):
        results.expect_at_least("nb", "iou2", 0.5, 0.9, hint="train longer")
    with pytest.raises(results.ResultBelowBar):
        results.expect_at_most("nb", "mse2", float("nan"), 1.0)
    out = capsys.readouterr().out
    assert "✅ iou = 0.93" in out and "❌ iou2" in out
    recorded = json.loads((tmp_path / "nb-full.json").read_text())
    assert recorded["iou"] == 0.93 and recorded["mse"] == 0.008 and recorded["iou2"] == 0.5


def test_nothing_is_written_without_the_switch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results.expect_at_least("nb", "x", 1, 0)
    assert list(tmp_path.iterdir()) == []


def test_quick_and_full_results_go_to_separate_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("COURSE_QUICK", "1")
    results.expect_at_least("01_segmentation", "iou", 0.8, 0.5)
    monkeypatch.setenv("COURSE_QUICK", "0")                      # 0 is full mode
    results.expect_at_least("01_segmentation", "iou", 0.95, 0.9)
    results.record("01_segmentation", "dice", 0.97)              # merged into the same file
    quick = json.loads((tmp_path / "results" / "01_segmentation-quick.json").read_text())
    full = json.loads((tmp_path / "results" / "01_segmentation-full.json").read_text())
    assert quick == {"iou": 0.8} and full == {"iou": 0.95, "dice": 0.97}
    assert not list((tmp_path / "results").glob("*.tmp"))       # written atomically, nothing left over
    out = capsys.readouterr().out
    assert "quick mode" in out and "full mode" in out


def test_bars_in_both_directions_and_the_hint(capsys):
    results.expect_at_most("nb", "mse", 0.01, 0.01)                         # the bar itself passes
    with pytest.raises(results.ResultBelowBar, match=r"mse = 0.02 missed its bar \(≤ 0.01\)\. lower the lr"):
        results.expect_at_most("nb", "mse", 0.02, 0.01, hint="lower the lr")
    with pytest.raises(results.ResultBelowBar):
        results.expect_at_least("nb", "acc", float("inf"), 0.5)              # not a finite measurement
    out = capsys.readouterr().out
    assert "✅ mse = 0.01  (expected ≤ 0.01, full mode)" in out
    assert "❌ mse = 0.02  (expected ≤ 0.01, full mode)" in out


def test_a_blank_results_dir_records_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_RESULTS_DIR", "  ")
    results.record("nb", "x", 1.0)
    assert list(tmp_path.iterdir()) == []
