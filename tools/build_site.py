"""Build the course site: static HTML from the pre-run notebooks, with Sphinx, myst-nb and the book theme.

    bash course.sh prerun                # first: executes every solution notebook in full mode into build/
    bash course.sh site                  # then: build/site/index.html (open it with file:// or any web server)
    bash course.sh site --from DIR       # pre-run notebooks from DIR instead of build/

The site has an index (README's course map with links to each lecture page and to Colab, and README's
benchmark tables), one page per lecture (the executed notebook, figures included, with its Colab link) and the
API of course_lib by tiers, generated from the docstrings. Notebooks are never executed here. A lecture without
a pre-run notebook is said so in one line; its page then shows the solution notebook without outputs.
The pages are written into build/site_src/ at every build (so they never go stale) and rendered with
tools/site_config/conf.py. The site's packages (requirements-site.txt) are installed into this environment when missing.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_meta import COLAB_BADGE_PREFIX, COURSE_BRANCH, COURSE_REPO, REPO_ROOT, SOLUTIONS, colab_url  # noqa: E402

REQUIREMENTS = REPO_ROOT / "requirements-site.txt"
CONF_DIR = REPO_ROOT / "tools" / "site_config"
README = REPO_ROOT / "README.md"
PACKAGES = ("sphinx", "myst_nb", "sphinx_book_theme", "sphinx-mathjax-offline")   # import names of requirements-site.txt
BADGE = re.compile(re.escape(COLAB_BADGE_PREFIX) + r"[^)]*\)\]\([^)]*\)[ \t]*\n?")


@dataclass
class Lecture:
    """One lecture page: its notebook's file name and where its page came from."""

    name: str
    state: str   # "full", "quick" (pre-run in that mode) or "missing" (no pre-run notebook)


# ---------------------------------------------------------------------------------------------- packages
def ensure_packages(quiet: bool = False) -> bool:
    """Install requirements-site.txt into this Python's environment when one of its packages is missing.

    Returns whether all of them can be imported afterwards (False, with pip's messages, when offline)."""
    if all(importlib.util.find_spec(name) for name in PACKAGES):
        return True
    if not quiet:
        print(f"Installing the site's packages ({REQUIREMENTS.name}) into {sys.prefix} ...", flush=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "-r", str(REQUIREMENTS)], capture_output=True, text=True, check=False)
    # The same filter as course.sh's setup: pip's notes about absent local indexes are noise.
    noise = "is ignored: it is neither a file nor a directory"
    messages = [line for line in (done.stdout + done.stderr).splitlines() if noise not in line]
    if messages and (done.returncode or not quiet):
        print("\n".join(messages))
    importlib.invalidate_caches()
    return all(importlib.util.find_spec(name) for name in PACKAGES)


# ---------------------------------------------------------------------------------------------- README
def readme_section(readme: str, title: str) -> str:
    """The text of README's ``## title`` section, without its heading, up to the next ``## `` heading."""
    parts = readme.split(f"\n## {title}\n", 1)
    if len(parts) < 2:
        raise ValueError(f"README.md has no '## {title}' section")
    return parts[1].split("\n## ", 1)[0].strip("\n")


def absolute_links(markdown: str) -> str:
    """README's links to files of the repository, pointed at the repository (the site has no such pages)."""
    return re.sub(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)", rf"]({COURSE_REPO}/blob/{COURSE_BRANCH}/\1)", markdown)


def course_map(section: str, pages: set[str]) -> str:
    """README's course map with its notebook and Colab columns replaced by links to the lecture's page
    (where one was built) and to Colab; the text around the table is kept."""
    lines = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) != 6:
            lines.append(absolute_links(line))
        elif cells[0] == "#":
            lines.append("| # | lecture | topics | Colab | CPU time (full / quick) |")
        elif set(line) <= set("|-: "):
            lines.append("|---|---|---|---|---|")
        else:
            number, title, topics, notebook, _colab, seconds = cells
            found = re.search(r"\(notebooks/([^)]+\.ipynb)\)", notebook)
            name = found.group(1) if found else ""
            if name in pages:
                title = f"[{title}]({name})"
            colab = f"[Open in Colab]({colab_url(name)})" if name else ""
            lines.append(f"| {number} | {title} | {absolute_links(topics)} | {colab} | {seconds} |")
    return "\n".join(lines)   # the lecture links stay relative: they are pages of the site


def index_page(readme: str, lectures: list[Lecture]) -> str:
    """The site's index (MyST Markdown): course map, benchmark, the API link, and the navigation."""
    pages = {lecture.name for lecture in lectures}
    missing = [lecture.name for lecture in lectures if lecture.state == "missing"]
    note = (f" Not pre-run, shown without outputs: {', '.join(missing)}." if missing else "")
    toctree = "\n".join(Path(lecture.name).stem for lecture in lectures)
    return f"""# Generative Models for Vision

The course's notebooks, executed in full mode by `bash course.sh prerun`: every figure and printed
result as a run on a CPU produced it.{note} Run them yourself in Colab (the links below open the
student versions, exercises left open) or locally with `bash course.sh start`
([the repository]({COURSE_REPO})). The helper library's reference: [the course_lib API](api.rst).

## Course map

{course_map(readme_section(readme, "Course map"), pages)}

## Benchmark

{absolute_links(readme_section(readme, "Benchmark"))}

```{{toctree}}
:hidden:
:caption: Lectures

{toctree}
```

```{{toctree}}
:hidden:
:caption: Library

api
```
"""


# ---------------------------------------------------------------------------------------------- lectures
def _mode(notebook: dict) -> str:
    """"quick" or "full": the mode the notebook ran in, from the run line each notebook prints first."""
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            if "mode=quick" in text:
                return "quick"
            if "mode=full" in text:
                return "full"
    return "full"


def lecture_notebook(notebook: dict, name: str, state: str) -> dict:
    """The notebook as its page shows it: the Colab link (and the page's origin) under the title.

    The badge image is replaced by a text link: it is fetched from colab.research.google.com, so offline
    (file:// or a local server) it would be a broken image."""
    notebook = copy.deepcopy(notebook)
    origin = {"full": "Pre-run in full mode.",
              "quick": "Pre-run in quick mode (smaller budgets; `bash course.sh prerun` runs full mode).",
              "missing": "Not pre-run: the solution notebook without outputs (`bash course.sh prerun` "
                         "executes it)."}[state]
    links = (f"**[Open in Colab]({colab_url(name)})** · [the student notebook on GitHub]"
             f"({COURSE_REPO}/blob/{COURSE_BRANCH}/notebooks/{name}) · {origin}")
    cells = notebook["cells"]
    first = next((cell for cell in cells if cell["cell_type"] == "markdown"), None)
    source = BADGE.sub("", "".join(first["source"])) if first else ""
    if first and source.startswith("# "):
        title, _, rest = source.partition("\n")
        first["source"] = f"{title}\n\n{links}\n{rest}"
    else:
        if first:
            first["source"] = source
        cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": links})
    return notebook


def write_lectures(solutions: Path, prerun: Path, src: Path) -> list[Lecture]:
    """One page source per solution notebook, from its pre-run version in ``prerun`` when there is one."""
    lectures = []
    for solution in sorted(solutions.glob("*.ipynb")):
        executed = prerun / solution.name
        notebook = json.loads((executed if executed.is_file() else solution).read_text())
        state = _mode(notebook) if executed.is_file() else "missing"
        if state == "missing":
            print(f"{solution.name}: no pre-run notebook in {prerun} (`bash course.sh prerun {solution.name[:2]}`); "
                  "its page shows the solution notebook without outputs")
        elif state == "quick":
            print(f"{solution.name}: the pre-run notebook ran in quick mode")
        (src / solution.name).write_text(json.dumps(lecture_notebook(notebook, solution.name, state), indent=1))
        lectures.append(Lecture(solution.name, state))
    return lectures


# ---------------------------------------------------------------------------------------------- API
def _automodule(module: str, heading: str, underline: str) -> str:
    return f"{heading}\n{underline * len(heading)}\n\n.. automodule:: {module}\n\n"


def api_page() -> str:
    """The API page (reStructuredText): course_lib's tiers as course_lib declares them (TOOLKIT and
    LECTURE_MODULES), each module autodoc'd from its docstrings; a module in no tier still gets a section."""
    import course_lib

    modules = sorted(info.name for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."))
    shown: set[str] = set()

    def section(names: list[str], heading: str, underline: str) -> str:
        text = ""
        for name in names:
            short = name.removeprefix("course_lib.")
            text += _automodule(name, heading.format(short=short, lecture=_lecture(short)), underline)
            shown.add(name)
        return text

    def _lecture(short: str) -> str:
        match = re.fullmatch(r"exercises\.lecture(\d\d)", short)
        return str(int(match.group(1))) if match else str(course_lib.LECTURE_MODULES.get(short, ""))

    text = ("The ``course_lib`` API\n======================\n\n.. automodule:: course_lib\n   :no-members:\n\n"
            "Toolkit\n-------\n\nBy topic; any lecture imports these. Each function and class names the lecture "
            "that introduces it.\n\n")
    for name in course_lib.TOOLKIT:
        full = f"course_lib.{name}"
        text += section([full], "``{short}``", "~")
        text += section([m for m in modules if m.startswith(full + ".")], "``{short}``", "^")
    text += "Lecture modules\n---------------\n\nWhat is specific to one lecture; they import the toolkit only.\n\n"
    lectures = sorted(course_lib.LECTURE_MODULES, key=course_lib.LECTURE_MODULES.get)
    text += section([f"course_lib.{name}" for name in lectures], "Lecture {lecture} · ``{short}``", "~")
    text += "Exercises\n---------\n\nThe checks behind each lecture's check cells.\n\n"
    text += section(["course_lib.exercises"], "``{short}``", "~")
    text += section([m for m in modules if m.startswith("course_lib.exercises.")],
                    "Lecture {lecture} · ``{short}``", "~")
    others = [m for m in modules if m not in shown]
    if others:
        text += "Other modules\n-------------\n\n" + section(others, "``{short}``", "~")
    return text


# ---------------------------------------------------------------------------------------------- build
def build(prerun: Path, out: Path, solutions: Path = SOLUTIONS, readme: Path = README) -> int:
    """Write the page sources next to ``out`` (``out``_src) and render them into ``out``; Sphinx's exit status."""
    started = time.perf_counter()
    if out.exists() and any(out.iterdir()) and not (out / ".buildinfo").exists():
        print(f"site: {out} exists and is not a site built before; choose another --out")
        return 2
    src = out.with_name(out.name + "_src")
    for folder in (src, out):
        shutil.rmtree(folder, ignore_errors=True)   # a fresh build: no page of a removed lecture lingers
    src.mkdir(parents=True)
    lectures = write_lectures(solutions, prerun, src)
    (src / "index.md").write_text(index_page(readme.read_text(), lectures))
    (src / "api.rst").write_text(api_page())
    log = src / "warnings.log"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(CONF_DIR),
               "-d", str(src / ".doctrees"), "-w", str(log), str(src), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    if done.returncode:
        print((done.stdout + done.stderr)[-4000:])
        print(f"site: Sphinx failed (exit status {done.returncode})")
        return done.returncode
    warnings = sum(": WARNING:" in line for line in log.read_text().splitlines()) if log.exists() else 0
    pages = [p for p in out.rglob("*.html") if not p.relative_to(out).parts[0].startswith("_")]
    missing = sum(lecture.state == "missing" for lecture in lectures)
    shown = out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out
    print(f"Site built in {time.perf_counter() - started:.0f} s: {len(pages)} pages ({len(lectures)} lectures, "
          f"{missing} of them not pre-run) in {shown}/index.html; {warnings} Sphinx warnings in {log}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="prerun", type=Path, default=REPO_ROOT / "build",
                        help="the folder of the pre-run notebooks (default: build/)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "site", help="default: build/site")
    parser.add_argument("--if-available", action="store_true",
                        help="skip with one line when the site's packages cannot be installed (the test command; "
                             "never under CI=true)")
    args = parser.parse_args()
    if not ensure_packages():
        how = f"{sys.executable} -m pip install -r {REQUIREMENTS.relative_to(REPO_ROOT)}"
        if args.if_available and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
            print(f"site: skipped (the site's packages could not be installed: {how})")
            return 0
        print(f"site: the site's packages could not be installed; try {how}")
        return 1
    return build(args.prerun.resolve(), args.out.resolve())


if __name__ == "__main__":
    raise SystemExit(main())
