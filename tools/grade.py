"""Grade submitted student notebooks: run each in quick mode, read its check verdicts, write a table.

    bash course.sh grade submissions/*.ipynb          # -> build/grades/<lecture>.csv and .md
    bash course.sh grade --timeout 900 alice/03_vae.ipynb bob/03_vae.ipynb

A notebook's lecture is read from its file name (``03_vae.ipynb``, ``alice-03_vae.ipynb`` or a folder
per student), and its exercises from that lecture's solution notebook (the names its
``use_if_passes`` calls give). Each notebook runs in a fresh kernel in quick mode with its own
checkpoint folder; cells that raise do not stop the run (``--allow-errors``), so every check that
can run, runs. One row per notebook, one column per exercise: ``passed``, ``not done``, ``failed``
(with the check's message), or ``not run`` when the notebook never reached that check; the run
column says ``ok``, ``errors in N cells`` or ``timed out after T s``.
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_meta import REPO_ROOT, SOLUTIONS  # noqa: E402

VERDICTS = {"✅": "passed", "⏳": "not done", "❌": "failed"}


def lecture_of(notebook: Path) -> Path:
    """The solution notebook of the lecture ``notebook`` belongs to (from the NN_topic part of its name)."""
    for solution in sorted(SOLUTIONS.glob("*.ipynb")):
        if solution.name in notebook.name:
            return solution
    raise ValueError(f"{notebook.name}: no lecture's notebook name (e.g. 03_vae.ipynb) in the file name")


def exercise_names(solution: Path) -> list[str]:
    """The exercise names of the ``use_if_passes`` calls in ``solution``, in order."""
    names = []
    for cell in json.loads(solution.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "use_if_passes":
                names.append(ast.literal_eval(node.args[0]))
    return names


def _outputs_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        text = output.get("text", "")
        parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts)


def read_verdicts(executed: dict, names: list[str]) -> tuple[dict[str, tuple[str, str]], int]:
    """``{exercise: (status, message)}`` from the check cells' printed verdicts, and the number of cells that raised."""
    found: dict[str, tuple[str, str]] = {}
    errors = 0
    for cell in executed["cells"]:
        if cell["cell_type"] != "code":
            continue
        errors += any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        for line in _outputs_text(cell).splitlines():
            for name in names:
                match = re.match(rf"^(✅|⏳|❌) {re.escape(name)}: (.*)$", line)
                if match:
                    found[name] = (VERDICTS[match.group(1)], match.group(2).strip())
    return found, errors


def grade(notebook: Path, timeout_s: int, scratch: Path, extra_env: dict[str, str] | None = None) -> dict:
    """Run ``notebook`` and return its row: run status, seconds, and ``{exercise: (status, message)}``."""
    solution = lecture_of(notebook)
    names = exercise_names(solution)
    output = scratch / f"graded-{abs(hash(str(notebook.resolve())))}-{notebook.name}"
    env = {**os.environ, "COURSE_QUICK": "1", "MPLBACKEND": "Agg", "COURSE_STATIC_WIDGETS": "1",
           "COURSE_CHECKPOINT_DIR": str(scratch / f"checkpoints-{output.stem}"), **(extra_env or {})}
    env.pop("COURSE_STRICT_CHECKS", None)
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
               str(notebook.resolve()), "--output", str(output), f"--ExecutePreprocessor.timeout={timeout_s}",
               "--ExecutePreprocessor.kernel_name=python3"]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=notebook.parent,
                              timeout=timeout_s, check=False)
        timed_out = False
    except subprocess.TimeoutExpired:
        done, timed_out = None, True
    seconds = time.perf_counter() - start
    verdicts: dict[str, tuple[str, str]] = {}
    if timed_out:
        run = f"timed out after {timeout_s} s"
    elif not output.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1] if done is not None else "no output"
        run = f"could not run ({last[:200]})"
    else:
        verdicts, errors = read_verdicts(json.loads(output.read_text()), names)
        run = "ok" if errors == 0 else f"errors in {errors} cell{'s' if errors != 1 else ''}"
    exercises = {name: verdicts.get(name, ("not run", "")) for name in names}
    return {"notebook": str(notebook), "lecture": solution.stem, "run": run, "seconds": round(seconds, 1),
            "exercises": exercises}


def write_tables(rows: list[dict], out: Path) -> list[Path]:
    """One CSV and one Markdown table per lecture; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lecture in sorted({r["lecture"] for r in rows}):
        group = [r for r in rows if r["lecture"] == lecture]
        names = list(group[0]["exercises"])
        header = ["notebook", "run", "seconds"] + [c for n in names for c in (n, f"{n}: message")]
        with open(out / f"{lecture}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for r in group:
                writer.writerow([r["notebook"], r["run"], r["seconds"]]
                                + [v for n in names for v in r["exercises"][n]])
        lines = [f"# Grades: {lecture}", "", "| notebook | run | " + " | ".join(names) + " |",
                 "|---|---|" + "---|" * len(names)]
        for r in group:
            cells = [status if not message or status == "passed" else f"{status}: {message}".replace("|", "\\|")
                     for status, message in (r["exercises"][n] for n in names)]
            lines.append(f"| {r['notebook']} | {r['run']} | " + " | ".join(cells) + " |")
        (out / f"{lecture}.md").write_text("\n".join(lines) + "\n")
        written += [out / f"{lecture}.csv", out / f"{lecture}.md"]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per notebook (default 900)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "grades")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        print("No such notebook: " + ", ".join(missing))
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for notebook in args.notebooks:
            print(f"{notebook} ...", end=" ", flush=True)
            row = grade(notebook, args.timeout, Path(scratch))
            counts = {s: sum(v[0] == s for v in row["exercises"].values()) for s in ("passed", "not done", "failed")}
            print(f"{row['run']}, {row['seconds']:.0f} s: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
            rows.append(row)
    for path in write_tables(rows, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
