"""Facts about the course that several tools share (one place to change them)."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "solutions"
NOTEBOOKS = REPO_ROOT / "notebooks"

#: Public address of the course repository: Colab's setup cell clones it, the README's badges open it.
COURSE_REPO = "https://github.com/genmodels-vision/course-pack"
COURSE_BRANCH = "main"

#: The first code cell of every notebook, identical everywhere (tests/test_notebooks.py checks it).
SETUP_CELL = f'''# Course setup (the same cell opens every notebook). In Colab it fetches the course and installs
# course_lib next to Colab's own torch (never reinstalling it); anywhere else it does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules:
    COURSE_DIR = "/content/course-pack"
    if not os.path.isdir(COURSE_DIR):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{COURSE_BRANCH}",
                        "{COURSE_REPO}", COURSE_DIR], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", COURSE_DIR, "torch-snippets"], check=True)
    sys.path.insert(0, COURSE_DIR)'''

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
