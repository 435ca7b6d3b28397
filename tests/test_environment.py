"""One source of truth for the packages, and the two commands the README promises."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COURSE_PACKAGES = {"jupyterlab", "torch", "torchvision", "matplotlib", "ipywidgets", "torch-snippets",
                   "nbval", "scipy", "torchmetrics", "torch-fidelity"}


def _requirements():
    reqs = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower()
            reqs[name] = line.replace(" ", "")
    return reqs


def test_requirements_name_every_course_package_with_ranges_not_pins():
    reqs = _requirements()
    assert COURSE_PACKAGES <= set(reqs), f"missing: {COURSE_PACKAGES - set(reqs)}"
    assert not [r for r in reqs.values() if "==" in r], "pinned versions break on Colab: use ranges"
    # Colab's preinstalled torch and the torch this machine installs (2.14.1) both satisfy the range.
    assert reqs["torch"] == "torch>=2.2"


def test_environment_yml_reads_requirements_txt():
    env = (ROOT / "environment.yml").read_text()
    pip_section = env.split("- pip:", 1)[1]
    assert "-r requirements.txt" in pip_section
    listed = {line.strip("- ").split("=")[0].split(">")[0].strip() for line in pip_section.splitlines() if line.strip()}
    duplicated = listed & set(_requirements())
    assert not duplicated, f"environment.yml repeats {duplicated}: keep versions in requirements.txt only"


def _pyproject_dependencies() -> dict[str, list[str]]:
    """course_lib's dependencies (key "") and each optional extra's, as pyproject.toml lists them."""
    try:
        import tomllib
    except ModuleNotFoundError:   # Python 3.10: the same parser as a package, where it is installed
        tomllib = pytest.importorskip("tomli")

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"": project["dependencies"], **project.get("optional-dependencies", {})}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()


def test_package_dependencies_agree_with_requirements():
    reqs = _requirements()
    for extra, deps in _pyproject_dependencies().items():
        for dep in deps:
            name = _name(dep)
            if extra:   # an extra's packages are course packages too: requirements.txt must list them
                assert name in reqs, f"pyproject's [{extra}] has {dep}, requirements.txt does not"
            if name in reqs:
                assert reqs[name] == dep.replace(" ", ""), f"{name}: pyproject says {dep}, requirements {reqs[name]}"


def test_colab_setup_installs_every_package_a_notebook_imports():
    # Colab's setup cell installs course_lib with its [notebooks] extra, so every third-party module a notebook
    # imports must come from one of those (Colab preinstalls torch, but not, e.g., torchmetrics).
    import sys
    from importlib import metadata

    sys.path.insert(0, str(ROOT / "tools"))
    from course_meta import SETUP_CELL, notebook_imports

    assert '"-e", COURSE_DIR + "[notebooks]"' in SETUP_CELL
    declared = {_name(dep) for deps in _pyproject_dependencies().values() for dep in deps}
    provided_by = metadata.packages_distributions()
    missing = {}
    for module, notebooks in notebook_imports().items():
        distributions = {d.lower().replace("_", "-") for d in provided_by.get(module, [])}
        assert distributions, f"{module} (imported by {sorted(notebooks)}) is not installed here"
        if not distributions & {d.replace("_", "-") for d in declared}:
            missing[module] = (sorted(distributions), sorted(notebooks))
    assert not missing, f"imported by notebooks but not in pyproject's dependencies or [notebooks] extra: {missing}"


def test_readme_top_has_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "README has no command block"
    first = [line for line in blocks[0].splitlines() if line.strip() and not line.startswith("#")]
    assert first == ["bash course.sh start", "bash course.sh test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec bash course\.sh test\s*$", ci, flags=re.MULTILINE)


def test_colab_badges_and_setup_cell_take_the_repository_from_one_place():
    import json
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    from course_meta import (
        COURSE_BRANCH,
        COURSE_REPO,
        SETUP_CELL,
        colab_badge,
        colab_url,
    )

    assert COURSE_REPO.startswith("https://github.com/") and COURSE_REPO.count("/") == 4
    # The setup cell clones exactly that repository and branch (unless COURSE_REPO_URL says otherwise).
    assert f'os.environ.get("COURSE_REPO_URL", "{COURSE_REPO}")' in SETUP_CELL
    assert f'"--branch", "{COURSE_BRANCH}"' in SETUP_CELL
    # The README's badges: one per student notebook, each the address colab_url builds.
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://colab\.research\.google\.com/github/[^)\s]+", readme)
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(link.rsplit("/", 1)[1] for link in links) == names
    for link in links:
        assert link == colab_url(link.rsplit("/", 1)[1]), f"stale badge (run bash course.sh notebooks): {link}"
    # Every notebook's title cell carries its own badge, and its first code cell is the setup cell.
    for folder in ("notebooks", "solutions"):
        for name in names:
            cells = json.loads((ROOT / folder / name).read_text())["cells"]
            title = next(c for c in cells if c["cell_type"] == "markdown")
            assert colab_badge(name) in "".join(title["source"]), f"{folder}/{name}: no or a stale Colab badge"
            first_code = next(c for c in cells if c["cell_type"] == "code")
            assert "".join(first_code["source"]) == SETUP_CELL


def _library_modules():
    import importlib
    import pkgutil

    import course_lib

    yield course_lib
    for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
        yield importlib.import_module(info.name)


def test_every_module_function_and_class_of_the_library_has_a_docstring():
    # Which lecture introduces what is checked by tests/test_library_tiers.py; this checks that
    # nothing public is left without any documentation at all.
    import inspect

    undocumented = []
    for module in _library_modules():
        if not (module.__doc__ or "").strip():
            undocumented.append(module.__name__)
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", "") == module.__name__ and not (obj.__doc__ or "").strip():
                undocumented.append(f"{module.__name__}.{name}")
    assert not undocumented, f"no docstring: {undocumented}"
