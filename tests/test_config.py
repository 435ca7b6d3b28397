"""Run configuration: the COURSE_* switch registry, quick/full mode, device choice and seeding."""
import ast
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import config

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "course_lib"


def test_pick_follows_the_quick_switch(monkeypatch):
    assert config.pick(full=10, quick=1) == 10 and config.mode_name() == "full"
    for on in ("1", "true", "YES", "on"):
        monkeypatch.setenv("COURSE_QUICK", on)
        assert config.is_quick() and config.pick(full=10, quick=1) == 1 and config.mode_name() == "quick"
    for off in ("0", "", "  ", "false", "no", "off", "2"):
        monkeypatch.setenv("COURSE_QUICK", off)
        assert not config.is_quick() and config.pick(full=10, quick=1) == 10 and config.mode_name() == "full"


def test_describe_run_names_mode_and_device(monkeypatch):
    assert config.describe_run(torch.device("cpu")).startswith("mode=full device=cpu torch=")
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert config.describe_run(torch.device("cpu")).startswith("mode=quick device=cpu")


def test_module_device():
    assert config.module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert config.module_device(torch.nn.ReLU()) == torch.device("cpu")          # no parameters, no buffers
    assert config.module_device(torch.nn.Linear(2, 2).to("meta")) == torch.device("meta")
    buffers_only = torch.nn.BatchNorm1d(2, affine=False).to("meta")
    assert config.module_device(buffers_only) == torch.device("meta")


# ---- the switch registry ------------------------------------------------------------------------------

def test_every_switch_is_declared_once_with_a_kind_and_a_meaning():
    assert len(config.SWITCHES) >= 9
    for name, switch in config.SWITCHES.items():
        assert isinstance(switch, config.Switch) and switch.name == name and name.startswith("COURSE_")
        assert switch.kind in ("flag", "value") and switch.meaning.strip(), name
    assert {n for n, s in config.SWITCHES.items() if s.kind == "flag"} >= {
        "COURSE_QUICK", "COURSE_OFFLINE", "COURSE_MNIST_STANDIN", "COURSE_STRICT_CHECKS", "COURSE_STATIC_WIDGETS"}
    assert {n for n, s in config.SWITCHES.items() if s.kind == "value"} >= {
        "COURSE_DATA_DIR", "COURSE_CHECKPOINT_DIR", "COURSE_RESULTS_DIR", "COURSE_DEVICE"}


def test_the_test_fixture_starts_from_a_clean_environment():
    import os
    assert not [name for name in config.SWITCHES if name in os.environ]


def test_flag_reads_on_values_in_any_case(monkeypatch):
    assert config.flag("COURSE_OFFLINE") is False                        # unset
    for on in ("1", "true", "TRUE", "Yes", "on", " 1 "):
        monkeypatch.setenv("COURSE_OFFLINE", on)
        assert config.flag("COURSE_OFFLINE") is True, on
    for off in ("0", "", "false", "off", "enabled", "11"):
        monkeypatch.setenv("COURSE_OFFLINE", off)
        assert config.flag("COURSE_OFFLINE") is False, off


def test_setting_returns_the_value_or_none(monkeypatch):
    assert config.setting("COURSE_DATA_DIR") is None
    monkeypatch.setenv("COURSE_DATA_DIR", "   ")
    assert config.setting("COURSE_DATA_DIR") is None                    # blank counts as unset
    monkeypatch.setenv("COURSE_DATA_DIR", " /data/mnist ")
    assert config.setting("COURSE_DATA_DIR") == "/data/mnist"


@pytest.mark.parametrize("reader", [config.flag, config.setting])
def test_unknown_switches_are_refused(reader, monkeypatch):
    monkeypatch.setenv("COURSE_QUIK", "1")
    with pytest.raises(KeyError, match="COURSE_QUIK is not a course switch"):
        reader("COURSE_QUIK")
    with pytest.raises(KeyError, match="COURSE_QUICK"):                 # the message lists the real ones
        reader("QUICK")


def test_switches_are_read_with_the_reader_of_their_kind():
    with pytest.raises(TypeError, match="COURSE_DATA_DIR is a value switch: read it with setting"):
        config.flag("COURSE_DATA_DIR")
    with pytest.raises(TypeError, match="COURSE_QUICK is a flag switch: read it with flag"):
        config.setting("COURSE_QUICK")
    for name, switch in config.SWITCHES.items():
        (config.flag if switch.kind == "flag" else config.setting)(name)   # the right reader works


def _sources() -> dict[Path, str]:
    files = [*LIB.rglob("*.py"), *(ROOT / "tools").rglob("*.py"), ROOT / "course.sh", ROOT / ".ci" / "run",
             ROOT / "README.md"]
    return {path: path.read_text() for path in files if path.is_file()}


def _course_names_used() -> dict[str, set[str]]:
    """Every COURSE_* environment variable the course's code, scripts and README mention: name -> files.

    Names the Python sources bind as constants (``COURSE_REPO = "..."`` in tools/course_meta.py and
    in its Colab template) are Python names, not environment variables.
    """
    mentioned: dict[str, set[str]] = {}
    constants: set[str] = set()
    for path, text in _sources().items():
        for name in re.findall(r"\bCOURSE_[A-Z][A-Z0-9_]*\b", text):
            mentioned.setdefault(name, set()).add(str(path.relative_to(ROOT)))
        if path.suffix == ".py":
            constants.update(re.findall(r"^\s*(COURSE_[A-Z0-9_]+)\s*=(?!=)", text, flags=re.MULTILINE))
    return {name: files for name, files in mentioned.items() if name not in constants}


def test_the_scan_finds_environment_variables_and_skips_python_constants():
    used = _course_names_used()
    assert "COURSE_QUICK" in used and "course.sh" in used["COURSE_QUICK"]
    assert "COURSE_STRICT_CHECKS" in used and "course.sh" in used["COURSE_STRICT_CHECKS"]
    assert "COURSE_REPO" not in used and "COURSE_BRANCH" not in used


def test_every_course_variable_used_anywhere_is_a_declared_switch():
    undeclared = {name: sorted(files) for name, files in _course_names_used().items() if name not in config.SWITCHES}
    assert not undeclared, f"COURSE_* names used but not declared in config.SWITCHES: {undeclared}"


def test_the_readme_lists_every_switch():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in config.SWITCHES if not re.search(rf"\b{name}\b", readme)]
    assert not missing, f"README.md does not mention the switches {missing}"


def _environment_reads(tree: ast.AST) -> list[tuple[int, ast.AST | None]]:
    """(line, key expression or None) of every os.environ / os.getenv use in a module."""
    found = []
    for node in ast.walk(tree):
        attribute = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv")
        if attribute or (isinstance(node, ast.Name) and node.id in ("environ", "getenv")):
            found.append((node.lineno, None))
    keys = {}
    for node in ast.walk(tree):   # the key of os.environ.get(key) / os.getenv(key) / os.environ[key]
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault")
                    and isinstance(func.value, ast.Attribute) and func.value.attr == "environ") or \
                    (isinstance(func, ast.Attribute) and func.attr == "getenv"):
                keys[node.lineno] = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
            keys[node.lineno] = node.slice
    return [(line, keys.get(line)) for line, _ in sorted(found, key=lambda item: item[0])]


def test_no_module_but_config_reads_a_course_variable_from_the_environment():
    offenders = []
    for path in sorted(LIB.rglob("*.py")):
        if path == LIB / "config.py":
            continue
        text = path.read_text()
        for line, key in _environment_reads(ast.parse(text)):
            literal = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
            if literal is None or literal.startswith("COURSE_"):   # a COURSE_ name, or a key we cannot see
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {text.splitlines()[line - 1].strip()}")
    assert not offenders, "read COURSE_* switches with config.flag/config.setting only:\n" + "\n".join(offenders)


def test_the_environment_scan_sees_the_reads_it_must_refuse():
    sneaky = "import os\nA = os.environ.get('COURSE_QUICK')\nB = os.getenv(NAME)\nC = os.environ['HOME']\n"
    reads = _environment_reads(ast.parse(sneaky))
    assert [line for line, _ in reads] == [2, 3, 4]
    assert [getattr(key, "value", None) for _, key in reads] == ["COURSE_QUICK", None, "HOME"]


def test_get_device_defaults_and_forcing(monkeypatch):
    assert config.get_device().type in ("cpu", "cuda", "mps")
    assert config.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_missing_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        config.get_device("cuda")


def test_seeding_repeats_exactly():
    config.seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(3))
    config.seed_everything(3)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
    generator = config.seed_everything(5)
    assert torch.equal(torch.rand(2, generator=generator), torch.rand(2, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_bad_seed(bad):
    with pytest.raises(ValueError):
        config.seed_everything(bad)
