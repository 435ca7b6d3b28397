"""Same seed, same results: run the solution notebooks in quick mode and compare their recorded results.

Every value a notebook checks with ``cl.results.expect_at_least`` / ``expect_at_most`` is recorded in
``$COURSE_RESULTS_DIR/<notebook>-quick.json``. This tool executes the solution notebooks again, each
pass with a fresh checkpoint folder (so everything trains from scratch), and compares the recorded
values of two passes: same names, and every value equal within ``--tolerance`` (relative; default 1e-6,
in practice the values are identical on one CPU).

    python tools/reproduce.py                      # two passes of every lecture, compared
    python tools/reproduce.py 03 05                # only lectures 03 and 05
    python tools/reproduce.py --against DIR        # one pass, compared with results recorded in DIR
                                                   # (bash course.sh test does this after its nbval pass)

Writes build/reproduce.md (one row per lecture) and exits 1 if any lecture differs.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_meta import REPO_ROOT, SOLUTIONS
from execute import execute


def run_pass(notebooks: list[Path], scratch: Path) -> tuple[Path, dict[str, str]]:
    """Execute ``notebooks`` in quick mode with a fresh checkpoint folder; return the results folder and
    the notebooks that failed to run (name -> last lines of the error)."""
    results = scratch / "results"
    env = {"COURSE_QUICK": "1", "COURSE_STRICT_CHECKS": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
           "COURSE_CHECKPOINT_DIR": str(scratch / "checkpoints"), "COURSE_RESULTS_DIR": str(results)}
    failed = {}
    for notebook in notebooks:
        seconds, ok, tail = execute(notebook, scratch / "executed" / notebook.name, env, timeout_s=900)
        print(f"  {notebook.stem}: {'ran' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
        if not ok:
            failed[notebook.stem] = tail
    return results, failed


def compare(first: dict[str, float], second: dict[str, float], tolerance: float) -> tuple[float, list[str]]:
    """Largest relative difference of two recorded result sets, and what disagrees (names or values)."""
    problems = [f"only in one run: {name}" for name in sorted(set(first) ^ set(second))]
    worst = 0.0
    for name in sorted(set(first) & set(second)):
        a, b = first[name], second[name]
        if a == b or (math.isnan(a) and math.isnan(b)):
            continue
        difference = abs(a - b) / max(abs(a), abs(b), 1e-12)
        worst = max(worst, difference)
        if not difference <= tolerance:
            problems.append(f"{name}: {a!r} vs {b!r} (relative difference {difference:.2g})")
    return worst, problems


def _load(folder: Path, stem: str) -> dict[str, float] | None:
    path = folder / f"{stem}-quick.json"
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lectures", nargs="*", help="lecture numbers (default: all)")
    parser.add_argument("--against", type=Path, help="results folder of an earlier quick-mode pass")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="largest relative difference allowed")
    parser.add_argument("--report", type=Path, default=REPO_ROOT / "build" / "reproduce.md")
    args = parser.parse_args(argv)
    notebooks = [p for p in sorted(SOLUTIONS.glob("*.ipynb"))
                 if not args.lectures or p.name[:2] in {n.zfill(2) for n in args.lectures}]
    if not notebooks:
        print("No notebook matches", args.lectures)
        return 2
    with tempfile.TemporaryDirectory(prefix="course-reproduce-") as scratch:
        passes = []
        if args.against is None:
            print("Pass 1 of 2 (quick mode, fresh checkpoints):")
            passes.append(run_pass(notebooks, Path(scratch) / "pass1"))
            print("Pass 2 of 2:")
        else:
            passes.append((args.against, {}))
            print(f"Running the solutions again (quick mode, fresh checkpoints) to compare with {args.against}:")
        passes.append(run_pass(notebooks, Path(scratch) / "pass2"))
        rows, bad = [], 0
        for notebook in notebooks:
            stem = notebook.stem
            errors = [tail for _, failed in passes if (tail := failed.get(stem))]
            first, second = (_load(folder, stem) for folder, _ in passes)
            if errors:
                verdict, worst, problems = "did not run", None, errors[:1]
            elif first is None or second is None:
                verdict, worst, problems = "no recorded results", None, []
            else:
                worst, problems = compare(first, second, args.tolerance)
                verdict = "same" if not problems else "DIFFERENT"
            bad += verdict != "same"
            count = len(first or {})
            rows.append((stem, verdict, count, worst, problems))
            shown = "—" if worst is None else f"{worst:.1e}"
            print(f"{'✅' if verdict == 'same' else '❌'} {stem}: {verdict} ({count} recorded values, "
                  f"largest relative difference {shown})")
            for problem in problems[:10]:
                print(f"     {problem}")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    lines = ["| notebook | twice with the same seed | recorded values | largest relative difference |",
             "|---|---|---|---|"]
    lines += [f"| {stem} | {verdict} | {count} | {'—' if worst is None else f'{worst:.1e}'} |"
              for stem, verdict, count, worst, _ in rows]
    args.report.write_text("\n".join(lines) + "\n")
    print(f"Table: {args.report}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
