"""`bash course.sh grade` (tools/grade.py, issue 12 part 6) on real and on broken student notebooks.

Lecture 3's generated student notebook must grade "not done" everywhere, its solution "passed"
everywhere, and a copy of the solution with one deliberately broken exercise "failed" there only,
with the check's message. A notebook with a crashing cell still gets its row (the checks that ran
are graded, the rest "not run"), and one that runs past the time limit gets "timed out". Each real
notebook runs in quick mode (about 45 s), so this file takes two to three minutes.
"""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import grade  # noqa: E402

# The data switches of the test command (course.sh test sets them; the autouse fixture clears them per test).
DATA_ENV = {k: os.environ[k] for k in ("COURSE_DATA_DIR", "COURSE_MNIST_STANDIN", "COURSE_OFFLINE") if k in os.environ}
LECTURE = "03_vae"
NAMES = grade.exercise_names(ROOT / "solutions" / f"{LECTURE}.ipynb")


def _needs_mnist():
    from course_lib import data
    for key, value in DATA_ENV.items():
        os.environ[key] = value
    try:
        data.load_mnist("test")
    except Exception as error:  # noqa: BLE001 (no dataset here, for whatever reason: the notebooks cannot run)
        pytest.skip(f"MNIST is not available ({type(error).__name__})")
    finally:
        for key in DATA_ENV:
            os.environ.pop(key, None)


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": source} for source in cells],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def _broken_solution(path: Path) -> Path:
    nb = json.loads((ROOT / "solutions" / f"{LECTURE}.ipynb").read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "def gaussian_kl" in source:
            cell["source"] = source.replace("### BEGIN SOLUTION", "### BEGIN SOLUTION\n    raise ValueError('a deliberate bug')", 1)
            break
    else:
        raise AssertionError("no gaussian_kl exercise cell in the lecture 3 solution")
    path.write_text(json.dumps(nb))
    return path


def test_exercise_names_come_from_the_solution():
    assert len(NAMES) == 4 and NAMES[1] == "Exercise 2: closed-form KL", NAMES


def test_grading_real_broken_crashing_and_endless_notebooks(tmp_path):
    _needs_mnist()
    imports = "import course_lib as cl\nfrom course_lib import vae\nfrom course_lib.exercises import lecture03 as ex"
    exercise_1 = ("def reparameterize(mu, logvar):\n    raise NotImplementedError()\n"
                  "reparameterize = cl.checks.use_if_passes('Exercise 1: reparameterize', reparameterize, "
                  "vae.reparameterize, ex.check_reparameterize)")
    notebooks = {
        "student": ROOT / "notebooks" / f"{LECTURE}.ipynb",
        "solution": ROOT / "solutions" / f"{LECTURE}.ipynb",
        "broken": _broken_solution(tmp_path / f"broken-{LECTURE}.ipynb"),
        "crash": _notebook(tmp_path / f"crash-{LECTURE}.ipynb",
                           [imports, "raise RuntimeError('a crash the kernel survives')", exercise_1]),
        "endless": _notebook(tmp_path / f"endless-{LECTURE}.ipynb", ["import time\ntime.sleep(600)"]),
    }
    rows = {}
    for name, path in notebooks.items():
        timeout = 20 if name == "endless" else 600
        rows[name] = grade.grade(path, timeout, tmp_path, extra_env=DATA_ENV)
    status = {name: {e: s for e, (s, _) in row["exercises"].items()} for name, row in rows.items()}

    assert rows["student"]["run"] == "ok" and set(status["student"].values()) == {"not done"}, rows["student"]
    assert rows["solution"]["run"] == "ok" and set(status["solution"].values()) == {"passed"}, rows["solution"]
    broken = status["broken"]
    assert broken.pop("Exercise 2: closed-form KL") == "failed" and set(broken.values()) == {"passed"}, rows["broken"]
    assert "a deliberate bug" in rows["broken"]["exercises"]["Exercise 2: closed-form KL"][1]
    assert rows["crash"]["run"] == "errors in 1 cell", rows["crash"]
    assert status["crash"] == {n: ("not done" if n == NAMES[0] else "not run") for n in NAMES}
    assert rows["endless"]["run"] == "timed out after 20 s" and set(status["endless"].values()) == {"not run"}

    written = grade.write_tables(list(rows.values()), tmp_path / "grades")
    assert [p.name for p in written] == [f"{LECTURE}.csv", f"{LECTURE}.md"]
    with open(written[0]) as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(notebooks) and table[2]["Exercise 2: closed-form KL"] == "failed"
    assert "a deliberate bug" in written[1].read_text()


def test_a_file_name_without_a_lecture_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no lecture"):
        grade.lecture_of(tmp_path / "homework.ipynb")
