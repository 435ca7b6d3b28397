"""The course site (tools/build_site.py): its pages from README and the pre-run notebooks, and a real Sphinx build.

The build test renders two small notebooks named like real lectures (one "pre-run" with a figure and a printed
result, one without outputs) plus the real README and the API page of course_lib, with the site's own packages
(requirements-site.txt, installed from PyPI when missing; skipped only when they cannot be installed).
"""
from __future__ import annotations

import base64
import io
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site as course_site  # noqa: E402
from course_meta import COLAB_BADGE_PREFIX, colab_url  # noqa: E402

README = (ROOT / "README.md").read_text()


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _png() -> str:
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(2, 2))
    axis.plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _notebook(title: str, executed: bool) -> dict:
    badge = f"{COLAB_BADGE_PREFIX}(https://colab.research.google.com/assets/colab-badge.svg)](https://x)"
    code = {"cell_type": "code", "execution_count": 1 if executed else None, "metadata": {},
            "source": "print('run')", "outputs": []}
    if executed:
        code["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": "Lecture run: mode=full, device=cpu\nIoU 0.812\n"},
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": _png(), "text/plain": "<Figure>"}},
        ]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                            "display_name": "Python 3"}},
            "cells": [_markdown(f"# {title}\n\n{badge}\n\nWhat this lecture is about: $p(x \\mid z)$."), code]}


# ---------------------------------------------------------------------------------------------- pages
def test_readme_section_is_the_text_up_to_the_next_heading_and_a_missing_one_is_named():
    section = course_site.readme_section(README, "Course map")
    assert section.startswith("| # |") and "\n## " not in section
    with pytest.raises(ValueError, match="no '## Nowhere' section"):
        course_site.readme_section(README, "Nowhere")


def test_course_map_links_each_lecture_to_its_page_and_to_colab():
    section = course_site.readme_section(README, "Course map")
    shown = course_site.course_map(section, {"03_vae.ipynb"})
    rows = [line for line in shown.splitlines() if re.match(r"\| \d+ \|", line)]
    lectures = re.findall(r"\(notebooks/(\d\d_\w+\.ipynb)\)", section)
    assert len(lectures) >= 6 and len(rows) >= len(lectures)
    for name in lectures:
        row = next(line for line in rows if f"| {int(name[:2])} |" in line)
        assert f"[Open in Colab]({colab_url(name)})" in row, row
        assert (f"]({name})" in row) == (name == "03_vae.ipynb"), row      # a page link only where a page exists
    assert all(line.count("|") == 6 for line in rows)                      # five columns: the notebook one went
    assert "colab-badge.svg" not in shown                                   # a text link, no image fetched offline
    assert "in preparation" in shown


def test_readme_links_to_repository_files_point_at_the_repository():
    text = course_site.absolute_links("see [the datasets](datasets/README.md), [Benchmark](#benchmark), "
                                      "[torch](https://pytorch.org)")
    assert f"]({course_site.COURSE_REPO}/blob/{course_site.COURSE_BRANCH}/datasets/README.md)" in text
    assert "](#benchmark)" in text and "](https://pytorch.org)" in text


@pytest.mark.parametrize("state, origin", [("full", "Pre-run in full mode"), ("quick", "quick mode"),
                                           ("missing", "Not pre-run")])
def test_a_lecture_page_has_its_colab_link_under_the_title_and_says_where_it_came_from(state, origin):
    page = course_site.lecture_notebook(_notebook("Lecture 3: VAE", state != "missing"), "03_vae.ipynb", state)
    first = page["cells"][0]["source"]
    assert first.startswith("# Lecture 3: VAE\n") and COLAB_BADGE_PREFIX not in first
    assert f"[Open in Colab]({colab_url('03_vae.ipynb')})" in first and origin in first
    assert "What this lecture is about:" in first


def test_the_mode_of_a_prerun_notebook_is_read_from_its_run_line():
    executed = _notebook("x", executed=True)
    assert course_site._mode(executed) == "full"
    executed["cells"][1]["outputs"][0]["text"] = "Lecture run: mode=quick, device=cpu\n"
    assert course_site._mode(executed) == "quick"


def test_the_api_page_documents_every_module_once_under_its_tier():
    import pkgutil

    import course_lib
    page = course_site.api_page()
    documented = re.findall(r"^\.\. automodule:: (\S+)$", page, flags=re.MULTILINE)
    modules = {info.name for info in pkgutil.walk_packages(course_lib.__path__, "course_lib.")}
    assert documented[0] == "course_lib" and sorted(documented[1:]) == sorted(modules)   # each module exactly once
    toolkit, lectures = page.index("\nToolkit\n"), page.index("\nLecture modules\n")
    assert toolkit < page.index(".. automodule:: course_lib.train\n") < lectures
    for module, number in course_lib.LECTURE_MODULES.items():
        heading = f"Lecture {number} · ``{module}``"
        assert lectures < page.index(heading) < page.index(f".. automodule:: course_lib.{module}\n")
    assert "Other modules" not in page            # every module is in a tier


# ---------------------------------------------------------------------------------------------- build
@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    if not course_site.ensure_packages(quiet=True):
        pytest.skip("the site's packages (requirements-site.txt) could not be installed")
    root = tmp_path_factory.mktemp("site")
    solutions, prerun, out = root / "solutions", root / "prerun", root / "site"
    solutions.mkdir()
    prerun.mkdir()
    for name, title in (("01_segmentation.ipynb", "Lecture 1: Segmentation"), ("03_vae.ipynb", "Lecture 3: VAE")):
        (solutions / name).write_text(json.dumps(_notebook(title, executed=False)))
    (prerun / "03_vae.ipynb").write_text(json.dumps(_notebook("Lecture 3: VAE", executed=True)))
    status = course_site.build(prerun, out, solutions=solutions)
    return status, out


def test_the_site_builds_an_index_lecture_pages_with_their_figures_and_the_api(built_site, capsys):
    status, out = built_site
    assert status == 0
    index = (out / "index.html").read_text()
    assert "Course map" in index and "Benchmark" in index
    assert 'href="03_vae.html"' in index and colab_url("03_vae.ipynb").replace("&", "&amp;") in index
    lecture = (out / "03_vae.html").read_text()
    assert "IoU 0.812" in lecture and colab_url("03_vae.ipynb") in lecture
    images = re.findall(r'<img[^>]+src="([^"]+)"', lecture)
    assert any((out / src).is_file() for src in images if not src.startswith(("http", "data:"))), images
    # MathJax comes with the site (the formulas render offline); Sphinx's default would load it from a CDN
    mathjax = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', lecture)
    assert mathjax and not mathjax[0].startswith("http") and (out / mathjax[0]).is_file(), mathjax
    assert "Not pre-run" in (out / "01_segmentation.html").read_text()
    api = (out / "api.html").read_text()
    for name in ("use_if_passes", "Lecture 3", "Toolkit", "Lecture modules"):
        assert name in api, name


def test_the_build_refuses_a_folder_that_is_not_a_site(built_site, tmp_path):
    status, out = built_site
    assert status == 0 and (out / ".buildinfo").is_file()        # what marks a folder as a site built before
    foreign = tmp_path / "not_a_site"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert course_site.build(tmp_path / "prerun", foreign, solutions=tmp_path) == 2
    assert (foreign / "notes.txt").read_text() == "mine"          # nothing of someone else's is deleted
