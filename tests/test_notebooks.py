"""The notebooks as files: in sync with solutions/, no outputs, no leaked solutions, one setup cell.

(nbval executes them; these tests check what is committed.)
"""
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student_notebooks as gen  # noqa: E402
from course_meta import BEGIN, END, SETUP_CELL  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUDENTS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _load(path):
    return json.loads(path.read_text())


def _code(nb):
    return [gen._source(c) for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks_and_they_pair_up():
    assert SOLUTIONS, "solutions/ holds no notebook"
    assert [p.name for p in SOLUTIONS] == [p.name for p in STUDENTS]
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name) for p in SOLUTIONS), "names are NN_topic.ipynb"


def test_student_notebooks_are_up_to_date_and_clean():
    assert gen.main(["--check"]) == 0, "run: python tools/make_student_notebooks.py"


@pytest.mark.parametrize("path", SOLUTIONS + STUDENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebooks_carry_no_outputs(path):
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", SOLUTIONS + STUDENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_setup_cell_is_the_same_everywhere(path):
    assert _code(_load(path))[0] == SETUP_CELL


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_have_exercises_with_checks(path):
    code = _code(_load(path))
    regions = sum(src.count(BEGIN) for src in code)
    assert 3 <= regions <= 8, f"{path.name} has {regions} solution regions; lectures have 3-6 exercises"
    checks = sum(len(re.findall(r"\b(use_if_passes|checks\.check)\(", src)) for src in code)
    assert checks >= regions, f"{path.name}: every exercise needs a check cell ({checks} checks, {regions} regions)"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_no_solution_text_leaks_into_the_student_notebook(path):
    solution_code = _code(_load(path))
    student_text = "\n".join(_code(_load(ROOT / "notebooks" / path.name)))
    outside = "\n".join(gen.strip_solutions(src) for src in solution_code)
    assert BEGIN not in student_text and END not in student_text
    for src in solution_code:
        for region in re.findall(re.escape(BEGIN) + r"\n(.*?)\n[ \t]*" + re.escape(END), src, flags=re.S):
            for line in region.splitlines():
                line = line.strip()
                if len(line) >= 12 and not line.startswith("#") and line not in outside:
                    assert line not in student_text, f"solution line leaked into notebooks/{path.name}: {line}"


def test_generator_stubs_keep_indentation_and_refuse_broken_markers():
    out = gen.strip_solutions(f"def f():\n    {BEGIN}\n    return 1\n    {END}")
    assert out == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    compile(out, "<stub>", "exec")
    for broken in (f"{BEGIN}\nx = 1", f"x = 1\n{END}", f"{BEGIN}\n{BEGIN}\n{END}"):
        with pytest.raises(gen.SolutionMarkerError):
            gen.strip_solutions(broken)
