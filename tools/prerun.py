"""Pre-run the course for instructors: every solution notebook, executed in full mode, into build/.

    bash course.sh prerun                 # all lectures, full mode -> build/NN_topic.ipynb + .html
    bash course.sh prerun --quick 01 02   # only lectures 01 and 02, quick mode

Checkpoints go to build/checkpoints, so a second pre-run reuses the trained models.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_meta import REPO_ROOT, SOLUTIONS  # noqa: E402
from execute import execute  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lectures", nargs="*", help="lecture numbers to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="quick mode instead of full mode")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build")
    args = parser.parse_args()
    notebooks = [p for p in sorted(SOLUTIONS.glob("*.ipynb"))
                 if not args.lectures or p.name[:2] in {n.zfill(2) for n in args.lectures}]
    if not notebooks:
        print("No notebook matches", args.lectures)
        return 2
    env = {"COURSE_QUICK": "1" if args.quick else "0", "COURSE_CHECKPOINT_DIR": str(args.out / "checkpoints"),
           "COURSE_RESULTS_DIR": str(args.out / "results")}
    failed = 0
    for notebook in notebooks:
        print(f"{notebook.name} ...", end=" ", flush=True)
        seconds, ok, tail = execute(notebook, args.out / notebook.name, env, html=True)
        print(f"{'done' if ok else 'FAILED'} in {seconds:.0f} s")
        if not ok:
            failed += 1
            print(tail)
    print(f"Executed notebooks and HTML are in {args.out}/")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
