"""The two tiers of course_lib, checked: lecture modules never import each other, the toolkit never
imports a lecture module, every public function and class names the lecture that introduces it,
and notebook N uses only what lectures <= N introduce."""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import course_lib

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "course_lib"
TAG = re.compile(r"^Lecture (\d+)\. ")
LECTURES = course_lib.LECTURE_MODULES


def _modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."))


def _lecture_of_module(name: str) -> int | None:
    """The lecture a module belongs to (lecture modules and exercises.lectureNN), None for the toolkit."""
    short = name.removeprefix("course_lib.")
    if short in LECTURES:
        return LECTURES[short]
    match = re.fullmatch(r"exercises\.lecture(\d\d)", short)
    return int(match.group(1)) if match else None


def _course_lib_imports(path: Path, module: str) -> set[str]:
    """The dotted course_lib names a source file imports (relative and absolute imports, resolved)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("course_lib"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("course_lib"))
    return {name for name in found if name != "course_lib"}


def _source_path(module: str) -> Path:
    mod = importlib.import_module(module)
    return Path(mod.__file__)


def test_the_module_map_lists_every_module_and_the_tiers_are_disjoint():
    top = {name.split(".")[1] for name in _modules()}
    assert set(LECTURES) | set(course_lib.TOOLKIT) | {"exercises"} == top
    assert not set(LECTURES) & set(course_lib.TOOLKIT)
    doc = course_lib.__doc__
    for name in top:
        assert f"``{name}``" in doc or (name == "exercises" and "exercises.lectureNN" in doc), name


def test_the_readme_shows_both_tiers_as_the_code_has_them():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The library", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_]+)(?:/[A-Za-z_]*)?`(?:, `([a-z_]+)/?`)? \|", section, flags=re.M))
    names = {name for pair in listed for name in pair if name}
    assert names == set(course_lib.TOOLKIT) | set(LECTURES) | {"exercises"}, names ^ (set(course_lib.TOOLKIT) | set(LECTURES) | {"exercises"})


@pytest.mark.parametrize("module", [m for m in _modules() if m.removeprefix("course_lib.") in LECTURES])
def test_no_lecture_module_imports_another_lecture_module(module):
    own = module.removeprefix("course_lib.")
    imported = {name.removeprefix("course_lib.").split(".")[0] for name in _course_lib_imports(_source_path(module), module)}
    others = (imported & set(LECTURES)) - {own}
    assert not others, f"{module} imports the lecture module(s) {sorted(others)}: move what it needs to the toolkit"


@pytest.mark.parametrize("module", [m for m in _modules() if _lecture_of_module(m) is None])
def test_the_toolkit_never_imports_a_lecture_module(module):
    imported = {name.removeprefix("course_lib.").split(".")[0] for name in _course_lib_imports(_source_path(module), module)}
    assert not imported & set(LECTURES), f"{module} (toolkit) imports {sorted(imported & set(LECTURES))}"


@pytest.mark.parametrize("module", [m for m in _modules() if m.startswith("course_lib.exercises.lecture")])
def test_exercise_checks_import_only_their_own_lecture(module):
    own = _lecture_of_module(module)
    for name in _course_lib_imports(_source_path(module), module):
        lecture = _lecture_of_module(name)
        assert lecture in (None, own), f"{module} imports {name} (lecture {lecture})"


def _public_objects(module: ModuleType):
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if getattr(obj, "__module__", None) == module.__name__:
            yield name, obj


def _tag(obj: object) -> int | None:
    match = TAG.match(inspect.getdoc(obj) or "")
    return int(match.group(1)) if match else None


def test_every_public_function_and_class_names_its_lecture():
    untagged = []
    for module_name in _modules():
        module = importlib.import_module(module_name)
        if module_name.startswith("course_lib.exercises.") or module_name.endswith(".config") \
                or module_name.endswith(".validate"):
            continue   # exercise checks belong to their lecture by file; config/validate are plumbing
        for name, obj in _public_objects(module):
            if _tag(obj) is None:
                untagged.append(f"{module_name}.{name}")
    assert not untagged, "no 'Lecture N.' at the start of the docstring: " + ", ".join(untagged)


@pytest.mark.parametrize("module", sorted(LECTURES))
def test_a_lecture_module_holds_only_its_own_lecture(module):
    mod = importlib.import_module(f"course_lib.{module}")
    wrong = [f"{name} (Lecture {_tag(obj)})" for name, obj in _public_objects(mod) if _tag(obj) != LECTURES[module]]
    assert not wrong, f"course_lib.{module} is lecture {LECTURES[module]}'s module but defines {wrong}"


# ------------------------------------------------------------------------------------------------
# What each notebook uses
# ------------------------------------------------------------------------------------------------


def _code_cells(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        lines.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return "\n\n".join(lines)


def course_lib_names(source: str) -> dict[str, object]:
    """Every ``course_lib`` object a piece of code refers to: ``{"cl.train.fit": <function>, ...}``.

    Follows ``import course_lib as cl``, ``from course_lib import x as y``, ``from course_lib.a import b``
    and attribute chains on those names. A chain that does not resolve raises AttributeError.
    """
    tree = ast.parse(source)
    aliases: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("course_lib"):
                    aliases[alias.asname or alias.name.split(".")[0]] = importlib.import_module(
                        alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    aliases[alias.asname or alias.name] = getattr(module, alias.name)
                else:
                    aliases[alias.asname or alias.name] = importlib.import_module(f"{node.module}.{alias.name}")
    used: dict[str, object] = {f"{name}": obj for name, obj in aliases.items()}

    def chain(node: ast.AST) -> list[str] | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in aliases:
            return [node.id] + parts[::-1]
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            names = chain(node)
            if names is None:
                continue
            obj = aliases[names[0]]
            for depth, attr in enumerate(names[1:], start=1):
                if isinstance(obj, ModuleType) and not hasattr(obj, attr):
                    obj = importlib.import_module(f"{obj.__name__}.{attr}")
                elif isinstance(obj, ModuleType):
                    obj = getattr(obj, attr)
                else:
                    break   # an attribute of a course_lib object (a method, a field): the object counts
                used[".".join(names[:depth + 1])] = obj
    return used


def introduced_in(name: str, obj: object) -> int | None:
    """The lecture that introduces ``obj``: its tag, else the lecture of the module it lives in
    (or is reached through), else None (untagged toolkit)."""
    if isinstance(obj, ModuleType):
        return _lecture_of_module(obj.__name__)
    tag = _tag(obj) if (inspect.isfunction(obj) or inspect.isclass(obj)) else None
    if tag is not None:
        return tag
    home = getattr(obj, "__module__", None)
    if isinstance(home, str) and _lecture_of_module(home) is not None:
        return _lecture_of_module(home)
    return None


NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_notebook_uses_only_what_earlier_lectures_introduce(path):
    lecture = int(path.name[:2])
    used = course_lib_names(_code_cells(path))
    assert used, f"{path.name} uses nothing from course_lib?"
    late = {}
    for name, obj in used.items():
        introduced = introduced_in(name, obj)
        if introduced is None and "." in name:   # a constant reached through a lecture module
            owner = used.get(name.rsplit(".", 1)[0])
            introduced = introduced_in(name, owner) if isinstance(owner, ModuleType) else None
        if introduced is not None and introduced > lecture:
            late[name] = introduced
    assert not late, f"lecture {lecture} uses names introduced later: {late}"


def test_the_notebook_scanner_resolves_names_and_sees_late_ones():
    used = course_lib_names("import course_lib as cl\nfrom course_lib import latent\nx = cl.train.fit\n"
                            "y = latent.slerp(a, b, 0.5)\nz = cl.checks.CheckFailed('no')\n")
    assert used["cl.train.fit"] is course_lib.train.fit
    assert introduced_in("latent.slerp", used["latent.slerp"]) == 5
    assert introduced_in("cl.train.fit", used["cl.train.fit"]) == 1
    with pytest.raises((AttributeError, ModuleNotFoundError)):
        course_lib_names("import course_lib as cl\ncl.no_such_module.f()\n")
