"""tools/browser_check.py: what it runs in each notebook, how it compares images and finds a site's lecture page,
that a missing browser is a clear skip for a student and a failure under CI, and (in Chromium, when it is here)
that the site check fails a page whose formulas were not typeset (under CI=true that test gets Chromium and
Playwright first, as the browser check does, and never skips). The full browser run is part of
`bash course.sh test` (after the notebooks), not of these unit tests."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import browser_check  # noqa: E402


def _cell(kind: str, source: str) -> dict:
    return {"cell_type": kind, "metadata": {}, "source": source, **({"outputs": []} if kind == "code" else {})}


def test_first_cells_run_up_to_the_first_exercise_check_or_the_setup_and_imports():
    cells = [_cell("markdown", "# L"), _cell("code", "setup"), _cell("code", "import x"), _cell("markdown", "ex"),
             _cell("code", "def f(): ..."), _cell("code", "f = use_if_passes(check, f)"), _cell("code", "train()")]
    assert browser_check.first_cells({"cells": cells}) == 6              # through the check cell
    no_check = [cell for cell in cells if "use_if_passes" not in cell["source"]]
    assert browser_check.first_cells({"cells": no_check}) == 3           # setup and imports
    late = cells[:3] + [_cell("code", f"step{i}") for i in range(8)] + cells[5:]
    assert browser_check.first_cells({"cells": late}) == 3               # a check far down is not waited for
    assert browser_check.first_cells({"cells": [_cell("markdown", "only text")]}) == 0


def test_the_explorer_cell_is_found_in_lecture_3_only():
    found = {path.name: browser_check.explorer_cell(json.loads(path.read_text()))
             for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))}
    assert found.pop("03_vae.ipynb") is not None
    assert set(found.values()) == {None}


def _png(value: float, size: int = 8) -> bytes:
    import matplotlib.image
    import numpy as np
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, np.full((size, size), value), cmap="gray", vmin=0, vmax=1, format="png")
    return buffer.getvalue()


def test_image_difference_is_zero_for_the_same_image_and_grows_with_the_change():
    assert browser_check.image_difference(_png(0.2), _png(0.2)) == 0
    small, large = (browser_check.image_difference(_png(0.2), _png(v)) for v in (0.3, 0.9))
    assert 0 < small < large <= 1
    assert browser_check.image_difference(_png(0.2), _png(0.2, size=9)) == 1.0    # another size: changed


def test_notebooks_are_selected_by_number_or_name(tmp_path):
    for name in ("01_a.ipynb", "02_b.ipynb", "03_vae.ipynb", "scratch.ipynb"):
        (tmp_path / name).write_text("{}")
    names = lambda wanted: [p.name for p in browser_check.selected_notebooks(tmp_path, wanted)]  # noqa: E731
    assert names([]) == ["01_a.ipynb", "02_b.ipynb", "03_vae.ipynb"]
    assert names(["3"]) == names(["03"]) == names(["03_vae"]) == ["03_vae.ipynb"]
    assert names(["1", "02"]) == ["01_a.ipynb", "02_b.ipynb"]


def test_the_lecture_page_is_one_the_index_links_to_preferring_lecture_3(tmp_path):
    (tmp_path / "index.html").write_text('<a href="01_a.html">1</a> <a href="03_vae.html#top">3</a> '
                                         '<a href="https://x/y.html">x</a> <a href="missing.html">?</a>')
    for name in ("01_a.html", "03_vae.html", "genindex.html"):
        (tmp_path / name).write_text("<p>page</p>")
    assert browser_check.lecture_page(tmp_path).name == "03_vae.html"
    (tmp_path / "index.html").write_text("<p>no links</p>")
    assert browser_check.lecture_page(tmp_path).name == "03_vae.html"  # not linked: still lecture 3's page
    (tmp_path / "03_vae.html").unlink()
    assert browser_check.lecture_page(tmp_path).name == "01_a.html"    # else the first other page by name
    for page in tmp_path.glob("*.html"):
        if page.name != "index.html":
            page.unlink()
    assert browser_check.lecture_page(tmp_path) is None


@pytest.mark.parametrize("ci, code, said", [("", 0, "check-browser: skipped (no Chromium at /nowhere/chromium"),
                                            ("true", 1, "check-browser: no Chromium at /nowhere/chromium")])
def test_a_missing_browser_is_skipped_with_a_line_except_under_ci(ci, code, said):
    env = {"PATH": "/usr/bin:/bin", "CI": ci, "HOME": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "browser_check.py"), "--if-available",
                           "--chromium", "/nowhere/chromium", "--site-only"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == code, done.stdout + done.stderr
    assert said in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# A formula as Sphinx writes it; the stub plays MathJax's part (its start-up promise, an <mjx-container> in the
# formula) so that the test needs no MathJax, only the browser.
FORMULA = '<span class="math notranslate nohighlight">\\(p(x \\mid z)\\)</span>'
MATHJAX_STUB = ("<script>window.MathJax = {startup: {promise: Promise.resolve()}};"
                "document.querySelectorAll('.math').forEach(f => f.innerHTML = '<mjx-container>p</mjx-container>');"
                "</script>")


@pytest.mark.parametrize("script, passed", [(MATHJAX_STUB, True), ("", False)])
def test_the_site_check_fails_a_page_whose_formulas_were_not_typeset(tmp_path, monkeypatch, script, passed):
    if browser_check.under_ci():   # CI must run it: get the browser now (the test command's browser check would)
        browser_check.ensure_chromium(browser_check.CHROMIUM)
        sync_api = browser_check.ensure_playwright()
    else:
        if not Path(browser_check.CHROMIUM).is_file():
            pytest.skip(f"no Chromium at {browser_check.CHROMIUM} (the browser check of the test command says so)")
        sync_api = pytest.importorskip("playwright.sync_api")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text('<html><body><a href="03_vae.html">Lecture 3</a></body></html>')
    (site / "03_vae.html").write_text(f"<html><body><p>{FORMULA}</p>{script}</body></html>")
    monkeypatch.setattr(browser_check, "OUT", tmp_path / "shots")
    (tmp_path / "shots").mkdir()
    steps = browser_check.Steps()
    with sync_api.sync_playwright() as pw:
        browser_check.check_site(pw, browser_check.CHROMIUM, site, steps, required=True)
    (_, index_ok, _, _), (_, page_ok, _, detail) = steps.rows
    assert index_ok and page_ok == passed, detail
    assert ("1 formulas typeset" in detail) if passed else ("1 of 1 formulas not typeset" in detail)
