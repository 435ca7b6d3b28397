"""Sphinx configuration of the course site (`bash course.sh site`, tools/build_site.py).

tools/build_site.py writes the pages (index, one per lecture, the API page) into build/site_src/ at build time and
runs Sphinx on them with this configuration; nothing here names a lecture or a module, so it never goes stale.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))
from course_meta import COURSE_BRANCH, COURSE_REPO  # noqa: E402

project = "Generative Models for Vision"
author = "the course-pack's authors"
copyright = "the course-pack's authors"
# sphinx-mathjax-offline copies MathJax into _static/: the formulas render on a machine without internet too
# (Sphinx's default loads MathJax from a CDN).
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx-mathjax-offline"]
exclude_patterns = ["_build", ".doctrees", "**.ipynb_checkpoints"]

# The notebooks were executed by `bash course.sh prerun`; the site only renders their saved outputs.
nb_execution_mode = "off"
# Progress bars and library warnings go to stderr: noise on a page that shows a finished run.
nb_output_stderr = "remove"
myst_enable_extensions = ["dollarmath", "amsmath"]
# README's "(see [Benchmark](#benchmark))" style links resolve to the headings of the same page.
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_preserve_defaults = True
autodoc_typehints = "signature"
add_module_names = False

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "repository_url": COURSE_REPO,
    "repository_branch": COURSE_BRANCH,
    "use_repository_button": True,
    "show_toc_level": 2,
}
html_show_sourcelink = False
html_copy_source = False
