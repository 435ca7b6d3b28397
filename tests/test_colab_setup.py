"""Colab, simulated: the notebooks' setup cell on a machine that already has torch (issue 12, part 2).

A fresh virtual environment gets torch and torchvision first, as Colab has them preinstalled (here: the
versions of the course's own environment, which this machine's pip serves). Then, with a stand-in
``google.colab`` module imported, as Colab's kernel does, the setup cell of a student notebook runs there with
``COURSE_REPO_URL`` pointing at a local copy of this working tree, so that it clones offline. Afterwards torch
and torchvision must be exactly as before (pip neither reinstalled, upgraded nor downgraded them),
``course_lib`` must import from the clone, the first lecture cell of every notebook must run, and every
third-party module any notebook imports further down (lecture 6's torchmetrics, say) must import.

It takes a few minutes (most of it installing torch into the fresh environment);
``COURSE_SKIP_COLAB_SIMULATION=1`` skips it on a machine whose pip would have to download torch.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from course_meta import notebook_imports  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_SKIP_COLAB_SIMULATION", "").lower() in ("1", "true", "yes", "on"),
                                reason="COURSE_SKIP_COLAB_SIMULATION=1")

# Run inside the fresh environment: exactly what a Colab kernel does with the first cells of a notebook.
RUNNER = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])          # the stand-in google.colab
    import google.colab                      # Colab's kernel has imported it before the first cell
    notebooks = json.loads(sys.argv[2])
    ran = {}
    for index, path in enumerate(notebooks):
        cells = [c for c in json.load(open(path))["cells"] if c["cell_type"] == "code"]
        cell_sources = ["".join(c["source"]) for c in cells]
        namespace = {"__name__": "__main__"}
        # Colab runs the setup cell of the first notebook for real; later notebooks run it again,
        # which must then only re-check the installation.
        exec(compile(cell_sources[0], f"{path} setup cell", "exec"), namespace)
        exec(compile(cell_sources[1], f"{path} first lecture cell", "exec"), namespace)
        ran[path] = namespace["cl"].__file__ if "cl" in namespace else None
    missing = {}
    for module in json.loads(sys.argv[3]):   # what later cells of the notebooks import
        try:
            __import__(module)
        except ImportError as error:
            missing[module] = str(error)
    import torch, torchvision, course_lib
    print("RESULT " + json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                                  "course_lib": course_lib.__file__, "ran": ran, "missing": missing}))
''')


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _local_copy_of_this_tree(dest: Path) -> None:
    """A git repository (branch main) holding this working tree's files, tracked or not but not ignored."""
    files = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    _run(git + ["init", "-q", "-b", "main"], cwd=dest)
    _run(git + ["add", "-A"], cwd=dest)
    _run(git + ["commit", "-q", "-m", "local copy"], cwd=dest)


def _installed(python: Path, package: str) -> dict:
    """Version and RECORD file identity (inode, mtime) of an installed distribution: a reinstall changes them."""
    code = (f"import importlib.metadata as m, os; d = m.distribution({package!r}); "
            "r = [f for f in d.files if f.name == 'RECORD'][0].locate(); s = os.stat(r); "
            "print(d.version, s.st_ino, s.st_mtime_ns)")
    version, inode, mtime = _run([str(python), "-c", code]).stdout.split()
    return {"version": version, "record": (inode, mtime)}


def test_setup_cell_installs_the_course_next_to_colabs_torch(tmp_path):
    torch_version, vision_version = metadata.version("torch"), metadata.version("torchvision")
    source = tmp_path / "course-pack-copy"
    source.mkdir()
    _local_copy_of_this_tree(source)

    venv = tmp_path / "colab-venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          f"torch=={torch_version}", f"torchvision=={vision_version}"])
    before = {name: _installed(python, name) for name in ("torch", "torchvision")}
    missing = subprocess.run([str(python), "-c", "import course_lib"], check=False, capture_output=True)
    assert missing.returncode != 0, "course_lib must not be importable before the setup cell ran"

    stand_in = tmp_path / "stand-in"
    (stand_in / "google" / "colab").mkdir(parents=True)
    (stand_in / "google" / "__init__.py").write_text("")
    (stand_in / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab module."""\n')
    content = tmp_path / "content"          # Colab's working folder
    content.mkdir()
    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(COURSE_REPO_URL=source.as_uri(), COURSE_COLAB_DIR=str(content / "course-pack"),
               MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1")
    modules = sorted(notebook_imports())
    result = _run([str(python), "-c", RUNNER, str(stand_in), json.dumps(notebooks), json.dumps(modules)],
                  cwd=content, env=env)
    report = json.loads(result.stdout.rsplit("RESULT ", 1)[1])

    after = {name: _installed(python, name) for name in ("torch", "torchvision")}
    assert after == before, f"pip changed Colab's torch/torchvision: before {before}, after {after}"
    assert (report["torch"].split("+")[0], report["torchvision"].split("+")[0]) == (
        torch_version.split("+")[0], vision_version.split("+")[0])
    clone = content / "course-pack"
    assert (clone / ".git").is_dir(), "the setup cell did not clone the repository"
    assert Path(report["course_lib"]).resolve().is_relative_to(clone.resolve()), report["course_lib"]
    assert len(report["ran"]) == len(notebooks) == 6
    for path, library in report["ran"].items():
        assert library and Path(library).resolve().is_relative_to(clone.resolve()), (path, library)
    assert not report["missing"], f"the setup cell did not install what the notebooks import: {report['missing']}"
    print(f"torch {before['torch']['version']} and torchvision {before['torchvision']['version']} "
          f"untouched; first lecture cells of {len(notebooks)} notebooks ran; {', '.join(modules)} import")
