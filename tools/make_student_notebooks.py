"""Write the student notebooks in notebooks/ from the solution notebooks in solutions/.

solutions/ is the single source of truth. Every region between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes a stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) with
the region's indentation, the setup cell is made canonical, the title cell gets the notebook's Colab badge, and outputs are
dropped. The README's Colab badges are rewritten from tools/course_meta.py too.

    python tools/make_student_notebooks.py          # write notebooks/ (and clean solutions/)
    python tools/make_student_notebooks.py --check  # exit 1 if anything is stale or dirty
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_meta import (
    BEGIN,
    COLAB_BADGE_PREFIX,
    END,
    NOTEBOOKS,
    REPO_ROOT,
    SETUP_CELL,
    SOLUTIONS,
    STUB,
    colab_badge,
    colab_url,
)

COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]*?/notebooks/(\d\d_[a-z0-9_]+\.ipynb)")


class SolutionMarkerError(ValueError):
    """BEGIN/END markers that do not pair up."""


def strip_solutions(source: str, where: str = "") -> str:
    """Replace each BEGIN/END SOLUTION region (markers included) by an indented stub."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise SolutionMarkerError(f"{where} line {number}: nested {BEGIN}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub_line for stub_line in STUB.split("\n"))
        elif stripped == END:
            if not inside:
                raise SolutionMarkerError(f"{where} line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: {BEGIN} is never closed")
    return "\n".join(out)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def with_badge(title_cell: str, notebook: str) -> str:
    """The title cell's source with the notebook's Colab badge as its second paragraph (replacing an old one)."""
    title, _, rest = title_cell.partition("\n")
    rest = rest.lstrip("\n")
    if rest.startswith(COLAB_BADGE_PREFIX):
        rest = rest.partition("\n")[2].lstrip("\n")
    return f"{title}\n\n{colab_badge(notebook)}\n\n{rest}".rstrip("\n")


def clean(nb: dict, name: str) -> dict:
    """Outputs and execution counts dropped, the setup cell made canonical, the title cell's Colab badge
    written, sources as strings."""
    nb = copy.deepcopy(nb)
    first_code = True
    first_markdown = True
    for cell in nb["cells"]:
        cell["source"] = _source(cell)
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "markdown" and first_markdown:
            cell["source"] = with_badge(cell["source"], name)
            first_markdown = False
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            if first_code:
                cell["source"] = SETUP_CELL
                first_code = False
    return nb


def student_version(solution_nb: dict, name: str) -> dict:
    """The student notebook for one solution notebook (``name``: its file name)."""
    nb = clean(solution_nb, name)
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            cell["source"] = strip_solutions(cell["source"], f"{name} cell {index}")
    return nb


def dumps(nb: dict) -> str:
    """Deterministic JSON, as Jupyter writes it (indent 1, keys sorted, trailing newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines()]


def _notebook_source(nb: dict) -> list[str]:
    return [_source(c) for c in nb["cells"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if anything would change")
    args = parser.parse_args(argv)
    stale: list[str] = []
    expected_students = set()
    for solution_path in sorted(SOLUTIONS.glob("*.ipynb")):
        raw = solution_path.read_text()
        nb = json.loads(raw)
        cleaned = dumps(clean(nb, solution_path.name))
        student = dumps(student_version(nb, solution_path.name))
        student_path = NOTEBOOKS / solution_path.name
        expected_students.add(student_path.name)
        for path, text in ((solution_path, cleaned), (student_path, student)):
            current = path.read_text() if path.is_file() else None
            if current != text:
                stale.append(str(path.relative_to(SOLUTIONS.parent)))
                if not args.check:
                    path.parent.mkdir(exist_ok=True)
                    path.write_text(text)
    readme_path = REPO_ROOT / "README.md"
    readme = readme_path.read_text()
    fresh_readme = COLAB_LINK.sub(lambda link: colab_url(link.group(1)), readme)
    if fresh_readme != readme:
        stale.append("README.md (Colab badges)")
        if not args.check:
            readme_path.write_text(fresh_readme)
    for orphan in sorted(NOTEBOOKS.glob("*.ipynb")):
        if orphan.name not in expected_students:
            stale.append(f"{orphan.relative_to(SOLUTIONS.parent)} (no solutions/ counterpart)")
            if not args.check:
                orphan.unlink()
    if args.check:
        if stale:
            print("Out of date (run `python tools/make_student_notebooks.py`):\n  " + "\n  ".join(stale))
            return 1
        print("notebooks/ and solutions/ are in sync and clean.")
        return 0
    print("Updated:\n  " + "\n  ".join(stale) if stale else "Nothing to update.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
