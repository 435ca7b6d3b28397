"""Execute a notebook in a fresh kernel with given course switches; shared by prerun and benchmark."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def execute(notebook: Path, output: Path, env: dict[str, str], timeout_s: int = 1800,
            html: bool = False) -> tuple[float, bool, str]:
    """Run ``notebook`` top to bottom into ``output`` (ipynb, plus HTML if asked).

    Returns (wall seconds including kernel start, success, last lines of the error if any).
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env}
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               str(notebook), "--output", str(output.resolve()),
               f"--ExecutePreprocessor.timeout={timeout_s}", "--ExecutePreprocessor.kernel_name=python3"]
    start = time.perf_counter()
    done = subprocess.run(command, env=full_env, capture_output=True, text=True, cwd=notebook.parent)
    seconds = time.perf_counter() - start
    ok = done.returncode == 0
    if ok and html:
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(output.resolve())],
                       env=full_env, capture_output=True, text=True, check=False)
    tail = "" if ok else "\n".join(done.stderr.strip().splitlines()[-15:])
    return seconds, ok, tail
