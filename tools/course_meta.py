"""Facts about the course that several tools share (one place to change them)."""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "solutions"
NOTEBOOKS = REPO_ROOT / "notebooks"

#: Public address of the course repository: the one place it is written. Colab's setup cell clones it, the
#: Colab badges (README and the top of every notebook) open it; `bash course.sh notebooks` writes it into
#: all of them, so a fork changes this line and reruns that command (tests/test_environment.py checks they agree).
COURSE_REPO = "https://github.com/genmodels-vision/course-pack"
COURSE_BRANCH = "main"
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_BADGE_PREFIX = "[![Open in Colab]("


def colab_url(notebook: str) -> str:
    """Colab's address of a student notebook (``"03_vae.ipynb"``) of the course repository."""
    owner_and_name = COURSE_REPO.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_and_name}/blob/{COURSE_BRANCH}/notebooks/{notebook}"


def colab_badge(notebook: str) -> str:
    """The Markdown "Open in Colab" badge of a student notebook."""
    return f"{COLAB_BADGE_PREFIX}{COLAB_BADGE_IMAGE})]({colab_url(notebook)})"


#: The first code cell of every notebook, identical everywhere (tests/test_notebooks.py checks it).
#: COURSE_REPO_URL and COURSE_COLAB_DIR let a fork, or tests/test_colab_setup.py with a local copy, use another
#: repository or folder without editing the notebooks.
SETUP_CELL = f'''# Course setup (the same cell opens every notebook). In Colab it fetches the course and installs
# course_lib and what the notebooks import next to Colab's own torch (never reinstalling it); anywhere else it
# does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules:
    COURSE_REPO = os.environ.get("COURSE_REPO_URL", "{COURSE_REPO}")
    COURSE_DIR = os.environ.get("COURSE_COLAB_DIR", "/content/course-pack")
    if not os.path.isdir(COURSE_DIR):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{COURSE_BRANCH}", COURSE_REPO, COURSE_DIR],
                       check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", COURSE_DIR + "[notebooks]"], check=True)
    sys.path.insert(0, COURSE_DIR)'''

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def notebook_imports(folder: Path = SOLUTIONS) -> dict[str, set[str]]:
    """The third-party modules the notebooks in ``folder`` import (top-level names, neither the standard library
    nor course_lib), each with the names of the notebooks that import it. Colab's setup cell must install them all."""
    imports: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for top in {name.split(".")[0] for name in names} - set(sys.stdlib_module_names) - {"course_lib"}:
                    imports.setdefault(top, set()).add(path.name)
    return imports
