import json

import pytest

from course_lib import results


def test_expectations_print_record_and_fail(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    assert results.expect_at_least("nb", "iou", 0.93, 0.9) == 0.93
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
