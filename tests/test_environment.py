"""One source of truth for the packages, and the two commands the README promises."""
import re
from pathlib import Path

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


def test_package_dependencies_agree_with_requirements():
    reqs = _requirements()
    pyproject = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"dependencies = \[(.*?)\]", pyproject, flags=re.DOTALL).group(1)
    for dep in re.findall(r'"([^"]+)"', deps):
        name = re.split(r"[<>=!~\[ ;]", dep, maxsplit=1)[0].lower()
        if name in reqs:
            assert reqs[name] == dep.replace(" ", ""), f"{name}: pyproject says {dep}, requirements {reqs[name]}"


def test_readme_top_has_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "README has no command block"
    first = [line for line in blocks[0].splitlines() if line.strip() and not line.startswith("#")]
    assert first == ["bash course.sh start", "bash course.sh test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec bash course\.sh test\s*$", ci, flags=re.MULTILINE)


def test_colab_badges_point_at_the_course_repository():
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    from course_meta import COURSE_BRANCH, COURSE_REPO

    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", readme)
    assert links
    prefix = COURSE_REPO.removeprefix("https://github.com/") + f"/blob/{COURSE_BRANCH}/notebooks/"
    for link in links:
        assert link.startswith(prefix), link
        assert (ROOT / "notebooks" / link.removeprefix(prefix)).is_file(), f"badge to a missing notebook: {link}"


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
