#!/usr/bin/env bash
# The course's one entry point. Each command first makes sure .venv/ exists and is up to date.
#
#   bash course.sh start      set up, then open JupyterLab on the course (notebooks/); extra args go to jupyter
#   bash course.sh test       set up, then run every test: course_lib unit tests, nbval (quick mode), same-seed rerun
#   bash course.sh prerun     execute every solution notebook in full mode into build/ (ipynb + HTML)
#   bash course.sh bench      measure quick/full times, reached quality and data-loader speed
#   bash course.sh notebooks  regenerate notebooks/ from solutions/
#   bash course.sh grade NB.. run submitted student notebooks (quick mode), write build/grades/<lecture>.csv/.md
#   bash course.sh site       build the course site from the pre-run notebooks into build/site/
#   bash course.sh check-browser  drive JupyterLab (and the site, if built) in headless Chromium; screenshots in build/browser/
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PY="$VENV/bin/python"

setup() {
    if [ ! -x "$PY" ]; then
        command -v python3 >/dev/null || { echo "course.sh: python3 (3.10 or newer) is needed" >&2; exit 1; }
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
            || { echo "course.sh: Python 3.10 or newer is needed, found $(python3 --version)" >&2; exit 1; }
        echo "Creating $VENV ..."
        python3 -m venv "$VENV"
    fi
    # Reinstall only when the requirements or the package metadata changed.
    local stamp="$VENV/.installed-$(cat requirements.txt pyproject.toml | sha1sum | cut -c1-12)"
    if [ ! -f "$stamp" ]; then
        echo "Installing the course's packages into $VENV (first time: a few minutes) ..."
        "$PY" -m pip install -q --disable-pip-version-check -r requirements.txt -e . 2>&1 \
            | grep -v "is ignored: it is neither a file nor a directory" || true
        "$PY" -c "import torch, torchvision, nbval, course_lib" \
            || { echo "course.sh: the installation failed (see above)" >&2; exit 1; }
        rm -f "$VENV"/.installed-*
        touch "$stamp"
    fi
}

use_offline_copy() {
    # An offline dataset copy beside the course (../shared/datasets) is used when no folder is set.
    if [ -z "${COURSE_DATA_DIR:-}" ] && [ -d ../shared/datasets ]; then
        export COURSE_DATA_DIR="$(cd ../shared/datasets && pwd)"
        echo "Data: using the offline copy in $COURSE_DATA_DIR"
    fi
}

run_tests() {
    use_offline_copy
    # The tests' quality bars hold on full MNIST and on its offline stand-in alike, so the stand-in
    # is allowed here (explicitly; the loader prints one line when it uses it).
    export COURSE_MNIST_STANDIN="${COURSE_MNIST_STANDIN:-1}"
    export COURSE_QUICK=1 MPLBACKEND=Agg PYTHONHASHSEED=0
    # Checkpoints of test runs go to a scratch folder, so every run trains from scratch.
    local scratch
    scratch="$(mktemp -d)"
    export COURSE_CHECKPOINT_DIR="${COURSE_CHECKPOINT_DIR:-$scratch/checkpoints}"
    local nbval=(--nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider)
    "$PY" -m pytest -q tests "$@"
    "$PY" -m pytest -q "${nbval[@]}" notebooks "$@"
    # The solutions train from scratch in their own folder and record their results, which a second
    # run must then reproduce exactly (same seed, same CPU): tools/reproduce.py.
    COURSE_STRICT_CHECKS=1 COURSE_CHECKPOINT_DIR="$scratch/solutions" COURSE_RESULTS_DIR="$scratch/results" \
        "$PY" -m pytest -q "${nbval[@]}" solutions "$@"
    if [ $# -eq 0 ]; then
        "$PY" tools/reproduce.py --against "$scratch/results"
        # What a student sees: JupyterLab and the course site (its pages without outputs here; `bash course.sh
        # site` renders the pre-run ones) in a real Chromium. Skipped with a line where Chromium cannot be had,
        # except under CI.
        "$PY" tools/build_site.py --if-available --from "$scratch/no-prerun" --out "$scratch/site"
        "$PY" tools/browser_check.py --if-available --site "$scratch/site"
    else
        echo "course.sh: a test selection was given, so the same-seed rerun and the browser check are skipped"
    fi
}

case "${1:-}" in
    start)     setup; shift
               root_flag=(); [ "$(id -u)" = 0 ] && root_flag=(--allow-root)
               exec "$VENV/bin/jupyter" lab --ServerApp.root_dir=. \
                   --LabApp.default_url=/lab/tree/notebooks "${root_flag[@]}" "$@" ;;
    test)      setup; shift; run_tests "$@" ;;
    prerun)    setup; shift; use_offline_copy; "$PY" tools/prerun.py "$@" ;;
    bench)     setup; shift; use_offline_copy; "$PY" tools/benchmark.py "$@" ;;
    notebooks) setup; "$PY" tools/make_student_notebooks.py ;;
    grade)     setup; shift; use_offline_copy; "$PY" tools/grade.py "$@" ;;
    site)      setup; shift; use_offline_copy; "$PY" tools/build_site.py "$@" ;;
    check-browser) setup; shift; use_offline_copy; "$PY" tools/browser_check.py "$@" ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
esac
