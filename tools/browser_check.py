"""Drive JupyterLab, and the course site if it is built, in a real (headless) Chromium.

    bash course.sh check-browser                  # lecture 3 to its latent explorer, first cells of the others, site
    bash course.sh check-browser --notebooks 03   # only lecture 3 (and the site)
    bash course.sh check-browser --site-only      # only the site (build/site/, from `bash course.sh site`)
    bash course.sh check-browser --full           # full mode: lecture 3 trains on full budgets (about 5 min)

JupyterLab starts as `bash course.sh start` starts it (headless, on a free localhost port, with a random token)
on a temporary copy of the notebooks, so nothing is written into notebooks/. Lecture 3 runs top to bottom
(Run > Run All Cells); its latent explorer must show sliders (the widget path of course_lib.frontend), and
moving a slider must change the decoded image. Every other notebook runs its first cells (up to its first
exercise check). No cell may show an error. Screenshots and report.md go to build/browser/.

Quick mode by default (the same cells on small budgets, which is what the test command runs): it checks what
the student sees and clicks, not how well the models train. Needs Debian's Chromium (`apt-get install -y
chromium chromium-driver`, done here when run as root) and Playwright (requirements-browser.txt, installed
when missing; its own browser download is never used).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import html.parser
import http.server
import importlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_meta import NOTEBOOKS, REPO_ROOT

OUT = REPO_ROOT / "build" / "browser"
SITE = REPO_ROOT / "build" / "site"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_INSTALL = "apt-get install -y chromium chromium-driver"
# The checks' ✅ / ❌ lines are emoji; without a colour-emoji font the screenshots show empty boxes.
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_INSTALL = "apt-get install -y fonts-noto-color-emoji"
# Without the background-networking flags a closed network makes Chromium log refused connections.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]
EXPLORER_CALL = "latent_explorer("
FIRST_CELLS_MAX = 6          # run up to the first exercise check when it is among this many code cells ...
FIRST_CELLS_FALLBACK = 2     # ... else only the setup and import cells
# JupyterLab user settings for the run: every cell in the DOM (no windowing), no autosave, no news toast.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
# The notebook's state as JupyterLab's model holds it (window.jupyterapp: --LabApp.expose_app_in_browser).
NOTEBOOK_STATE_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.widgets || !panel.sessionContext) return null;
  return {kernel: panel.sessionContext.kernelDisplayStatus, cells: panel.content.widgets.map(w => {
    const code = w.model.type === 'code', outputs = code ? w.model.outputs.toJSON() : [];
    const prompt = w.node.querySelector('.jp-InputPrompt');
    return {code, count: code ? w.model.executionCount : null, prompt: prompt ? prompt.textContent.trim() : '',
            errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
            text: outputs.filter(o => o.output_type === 'stream').map(o => o.text).join('').slice(0, 500)};
  })};
}"""


class Failed(Exception):
    """A check that did not hold; its message is the step's result line."""


class Missing(Exception):
    """Chromium or Playwright is not here and could not be installed; the message says how to get it."""


class Steps:
    """Each step's result, printed as it ends (✓/✗, seconds, what was seen) and written to report.md."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, float, str]] = []

    @contextlib.contextmanager
    def step(self, name: str):
        """Time the body; it may set ``info["detail"]``. A failure is recorded and raised as ``Failed``."""
        start, info = time.perf_counter(), {"detail": ""}
        try:
            yield info
        except Exception as error:  # any failure, Playwright's timeouts included, is a ✗
            message = str(error) if isinstance(error, Failed) else f"{type(error).__name__}: {error}"
            self.add(name, False, time.perf_counter() - start, message.strip().splitlines()[0][:300])
            raise Failed(message) from error
        self.add(name, True, time.perf_counter() - start, info["detail"])

    def add(self, name: str, ok: bool, seconds: float, detail: str) -> None:
        self.rows.append((name, ok, seconds, detail))
        print(f"{'✓' if ok else '✗'} {name} ({seconds:.1f} s){': ' + detail if detail else ''}", flush=True)

    @property
    def failed(self) -> int:
        return sum(not ok for _, ok, _, _ in self.rows)


# ---------------------------------------------------------------------------------------------- helpers
def first_cells(notebook: dict) -> int:
    """How many cells (code and Markdown, from the top) to run in a notebook that is not run whole: up to and
    including its first exercise check (``use_if_passes``) if that is among the first ``FIRST_CELLS_MAX`` code
    cells, else up to its ``FIRST_CELLS_FALLBACK``-th code cell (setup and imports)."""
    code = [i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]
    if not code:
        return 0
    for i in code[:FIRST_CELLS_MAX]:
        if "use_if_passes(" in "".join(notebook["cells"][i]["source"]):
            return i + 1
    return code[min(FIRST_CELLS_FALLBACK, len(code)) - 1] + 1


def explorer_cell(notebook: dict) -> int | None:
    """The index of the code cell that calls the latent explorer, or None."""
    return next((i for i, cell in enumerate(notebook["cells"])
                 if cell["cell_type"] == "code" and EXPLORER_CALL in "".join(cell["source"])), None)


def image_difference(png_a: bytes, png_b: bytes) -> float:
    """Mean absolute difference of two PNG images' pixels, in [0, 1] (1 when their sizes differ)."""
    import matplotlib.image
    a, b = (matplotlib.image.imread(io.BytesIO(data), format="png") for data in (png_a, png_b))
    return 1.0 if a.shape != b.shape else float(abs(a.astype(float) - b.astype(float)).mean())


def selected_notebooks(folder: Path, wanted: list[str]) -> list[Path]:
    """The notebooks in ``folder`` whose names start with one of ``wanted`` ("3", "03", "03_vae"); all if empty."""
    notebooks = sorted(folder.glob("[0-9]*.ipynb"))
    keys = [w.zfill(2) if w.isdigit() else w for w in wanted]
    return [p for p in notebooks if not keys or any(p.name.startswith(k) for k in keys)]


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def lecture_page(site: Path) -> Path | None:
    """A lecture page of the site: the first local .html page the index links to (lecture 3's if it is
    linked), else the first other .html file in the folder."""
    links = _Links()
    links.feed((site / "index.html").read_text(errors="replace"))
    pages = []
    for href in links.hrefs:
        target = href.split("#")[0].split("?")[0]
        if target.endswith(".html") and "://" not in target and not target.startswith("/"):
            page = (site / target).resolve()
            if page.is_file() and page != (site / "index.html").resolve() and page not in pages:
                pages.append(page)
    pages = pages or [p for p in sorted(site.glob("*.html")) if p.name != "index.html"]
    return next((p for p in pages if p.name.startswith("03")), pages[0] if pages else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------- setup
def can_apt() -> bool:
    """Whether Debian packages can be installed here: run as root on a machine with apt-get."""
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(command: str) -> None:
    """Run ``command`` (an ``apt-get install -y ...`` line) quietly after refreshing the package lists."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, stdout=subprocess.DEVNULL)
    done = subprocess.run(command.split() + ["-qq"], env=env, check=False, capture_output=True, text=True)
    if done.returncode:   # debconf's notes on success are noise; a failure's last lines say why
        print("\n".join((done.stdout + done.stderr).splitlines()[-5:]))


def ensure_chromium(path: str) -> str:
    """The Chromium to drive: ``path``, installed from Debian's packages when missing and run as root.

    Debian's colour-emoji font is added the same way when it is missing; without it (not root) the
    screenshots show boxes for the checks' emoji, which fails nothing."""
    if path == CHROMIUM and not Path(path).is_file() and can_apt():   # Debian's package puts it there
        print(f"Installing Debian's Chromium ({CHROMIUM_INSTALL}) ...", flush=True)
        apt_install(CHROMIUM_INSTALL)
    if not Path(path).is_file():
        raise Missing(f"no Chromium at {path}; install it with: sudo {CHROMIUM_INSTALL}")
    if not EMOJI_FONT.is_file() and can_apt():
        print(f"Installing a colour-emoji font for the screenshots ({EMOJI_INSTALL}) ...", flush=True)
        apt_install(EMOJI_INSTALL)
    return path


def ensure_playwright():
    """Playwright's sync API, pip-installed from requirements-browser.txt into this environment when missing."""
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        pass
    requirements = REPO_ROOT / "requirements-browser.txt"
    print(f"Installing Playwright ({requirements.name}) into {sys.prefix} ...", flush=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "-r", str(requirements)], check=False, capture_output=True, text=True)
    noise = "is ignored: it is neither a file nor a directory"     # pip's note about absent local indexes
    print("\n".join(line for line in (done.stdout + done.stderr).splitlines() if noise not in line), end="")
    importlib.invalidate_caches()
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        raise Missing(f"Playwright is missing; install it with: {sys.executable} -m pip install "
                      f"-r {requirements.relative_to(REPO_ROOT)}") from None


class Lab:
    """JupyterLab as `bash course.sh start` runs it, on ``root``, headless, on a free port, with a token."""

    def __init__(self, root: Path, env: dict[str, str], log: Path) -> None:
        self.port, self.token = free_port(), secrets.token_hex(16)
        jupyter = Path(sys.executable).with_name("jupyter")
        command = [str(jupyter), "lab"] if jupyter.exists() else [sys.executable, "-m", "jupyterlab"]
        command += ["--no-browser", "--ServerApp.open_browser=False", "--ServerApp.ip=127.0.0.1",
                    f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                    f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={root}",
                    "--LabApp.default_url=/lab/tree/notebooks", "--LabApp.expose_app_in_browser=True"]
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.log = log.open("w")
        # its own process group: the kernels it starts go down with it, whatever happens
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}{'&' if '?' in path else '?'}token={self.token}"

    def api(self, method: str, path: str):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Failed(f"JupyterLab exited with code {self.process.returncode} (see {self.log.name})")
            with contextlib.suppress(OSError):
                return self.api("GET", "/api/status") and self.api("GET", "/api")["version"]
            time.sleep(0.5)
        raise Failed(f"JupyterLab did not answer within {timeout:.0f} s")

    def shutdown_kernels(self) -> None:
        with contextlib.suppress(OSError):
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.shutdown_kernels()
            self.api("POST", "/api/shutdown")
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------- notebooks
def notebook_state(page) -> dict | None:
    return page.evaluate(NOTEBOOK_STATE_JS)


def open_notebook(page, lab: Lab, path: str, timeout: float) -> dict:
    """Open ``path`` (relative to the server's root) in a fresh workspace and wait for an idle kernel."""
    page.goto(lab.url(f"/lab/tree/{path}?reset"), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout * 1000)
    page.wait_for_function(f"(() => {{ const s = ({NOTEBOOK_STATE_JS})(); return s && s.kernel === 'idle'; }})()",
                           timeout=timeout * 1000, polling=500)
    page.evaluate("window.jupyterapp.shell.collapseLeft()")      # more of the notebook in the screenshots
    return notebook_state(page)


def wait_until_run(page, cells: range, timeout: float, label: str) -> dict:
    """Wait until the code cells among ``cells`` have all run, or the run stopped (nothing queued, kernel idle)."""
    start = last_note = time.monotonic()
    settled, started = 0, False
    while True:
        time.sleep(1.0)
        state = notebook_state(page)
        code = [state["cells"][i] for i in cells if state["cells"][i]["code"]]
        done = sum(c["count"] is not None and "*" not in c["prompt"] for c in code)
        queued = any("*" in c["prompt"] for c in state["cells"])
        started = started or queued or done > 0
        settled = settled + 1 if started and state["kernel"] == "idle" and not queued else 0
        if (done == len(code) and settled >= 2) or settled >= 5:
            return state
        if not started and time.monotonic() - start > 30:
            raise Failed(f"{label}: no cell started running within 30 s")
        if time.monotonic() - start > timeout:
            raise Failed(f"{label}: {done}/{len(code)} code cells run after {timeout:.0f} s (--timeout)")
        if time.monotonic() - last_note > 30:
            print(f"    ... {label}: {done}/{len(code)} code cells run, {time.monotonic() - start:.0f} s", flush=True)
            last_note = time.monotonic()


def errors_and_gaps(state: dict, ran: range) -> tuple[int, str] | None:
    """What went wrong: the first cell that shows an error, or a code cell among ``ran`` that never ran."""
    for i, cell in enumerate(state["cells"]):
        if cell["errors"]:
            return i, f"cell {i + 1} shows an error: {cell['errors'][0][:200]}"
    for i in ran:
        if state["cells"][i]["code"] and state["cells"][i]["count"] is None:
            return i, f"cell {i + 1} was never run"
    return None


def fail_at(page, problem: tuple[int, str] | None) -> None:
    """Raise ``Failed`` for ``problem`` (from :func:`errors_and_gaps`), with that cell scrolled into view."""
    if problem:
        with contextlib.suppress(Exception):
            page.locator(".jp-Notebook .jp-Cell").nth(problem[0]).scroll_into_view_if_needed(timeout=5000)
        raise Failed(problem[1])


def close_notebook(page, lab: Lab, stem: str) -> None:
    """Screenshot the page as it is (passed or failed), close it and shut its kernel down."""
    with contextlib.suppress(Exception):
        page.screenshot(path=str(OUT / f"{stem}.png"))
    page.close()
    lab.shutdown_kernels()


def check_first_cells(context, lab: Lab, notebook: Path, folder: str, steps: Steps, timeout: float) -> None:
    source = json.loads(notebook.read_text())
    count = first_cells(source)
    n_code = sum(c["cell_type"] == "code" for c in source["cells"][:count])
    page = context.new_page()
    try:
        with steps.step(f"{notebook.stem}: open, kernel idle") as info:
            open_notebook(page, lab, f"{folder}/{notebook.name}", timeout=120)
            info["detail"] = f"{len(source['cells'])} cells"
        with steps.step(f"{notebook.stem}: run the first {n_code} code cells (Shift+Enter)") as info:
            page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
            for _ in range(count):
                page.keyboard.press("Shift+Enter")
            state = wait_until_run(page, range(count), timeout, notebook.stem)
            fail_at(page, errors_and_gaps(state, range(count)))
            printed = next(c for c in reversed(state["cells"][:count]) if c["code"])["text"].strip()
            lines = printed.splitlines() or [""]
            shown = next((line for line in lines if line.lstrip()[:1] in ("✅", "⏳", "❌")), lines[-1]).strip()
            info["detail"] = "no cell shows an error" + (f"; the last one printed: {shown[:120]}" if shown else "")
    finally:
        close_notebook(page, lab, notebook.stem)


def check_explorer(context, lab: Lab, notebook: Path, folder: str, steps: Steps, timeout: float) -> None:
    """Run the notebook whole, then move the latent explorer's first slider and compare the decoded image."""
    source = json.loads(notebook.read_text())
    explorer = explorer_cell(source)
    page = context.new_page()
    try:
        with steps.step(f"{notebook.stem}: open, kernel idle") as info:
            open_notebook(page, lab, f"{folder}/{notebook.name}", timeout=120)
            info["detail"] = f"{len(source['cells'])} cells"
        with steps.step(f"{notebook.stem}: Run > Run All Cells, no cell shows an error") as info:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator('li[data-command="runmenu:run-all"]').click()
            cells = range(len(source["cells"]))
            state = wait_until_run(page, cells, timeout, notebook.stem)
            fail_at(page, errors_and_gaps(state, cells))
            info["detail"] = f"{sum(c['code'] for c in state['cells'])} code cells run"
        cell = page.locator(".jp-Notebook .jp-Cell").nth(explorer)
        image = cell.locator(".widget-output img").first
        with steps.step(f"{notebook.stem}: latent explorer shows sliders (widget frontend detected)") as info:
            if explorer is None:
                raise Failed("no cell calls latent_explorer(")
            cell.scroll_into_view_if_needed()
            text = state["cells"][explorer]["text"]
            if "static view" in text:
                raise Failed(f"the static view instead of sliders: {text.strip()[:200]}")
            cell.locator(".widget-hslider").first.wait_for(timeout=60_000)
            image.wait_for(timeout=60_000)
            sliders = cell.locator(".widget-hslider")
            labels = [sliders.nth(i).locator(".widget-label").inner_text() for i in range(sliders.count())]
            info["detail"] = f"{len(labels)} sliders ({', '.join(labels)}) and the decoded image"
            cell.screenshot(path=str(OUT / f"{notebook.stem}-explorer-before.png"))
        before = image.get_attribute("src")
        with steps.step(f"{notebook.stem}: drag slider {labels[0]}, the decoded image changes") as info:
            slider = sliders.first
            handle, track = slider.locator(".noUi-handle").bounding_box(), slider.locator(".noUi-base").bounding_box()
            page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
            page.mouse.down()
            page.mouse.move(track["x"] + 0.85 * track["width"], handle["y"] + handle["height"] / 2, steps=12)
            page.mouse.up()
            value = slider.locator(".widget-readout").inner_text()
            if value.strip() in ("0.00", "0.0", "0"):
                raise Failed(f"the slider did not move (readout {value!r})")
            after, deadline = before, time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):       # the output is redrawn: the img may vanish a moment
                    after = image.get_attribute("src", timeout=1000)
                    if after and after != before:
                        time.sleep(1.0)                    # let the redraw finish, then read it again
                        after = image.get_attribute("src", timeout=5000)
                        break
                time.sleep(0.5)
            cell.screenshot(path=str(OUT / f"{notebook.stem}-explorer-after.png"))
            difference = image_difference(*(base64.b64decode(src.split(",", 1)[1]) for src in (before, after)))
            if difference < 1e-3:
                raise Failed(f"{labels[0]} = {value}, but the decoded image did not change "
                             f"(mean pixel difference {difference:.5f})")
            info["detail"] = f"{labels[0]} 0.00 -> {value}: mean pixel difference {difference:.3f}"
        with steps.step(f"{notebook.stem}: after the slider, still no cell shows an error"):
            fail_at(page, errors_and_gaps(notebook_state(page), range(len(source["cells"]))))
    finally:
        close_notebook(page, lab, notebook.stem)


def check_notebooks(pw, chromium: str, folder: Path, notebooks: list[Path], steps: Steps, args) -> None:
    work = Path(tempfile.mkdtemp(prefix="course-browser-"))
    lab = browser = None
    try:
        shutil.copytree(folder, work / folder.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        settings = work / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            target = settings / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env = {k: v for k, v in os.environ.items()
               if k not in ("MPLBACKEND", "COURSE_STRICT_CHECKS", "COURSE_STATIC_WIDGETS", "COURSE_RESULTS_DIR")}
        env.update(COURSE_QUICK="0" if args.full else "1", COURSE_CHECKPOINT_DIR=str(work / "checkpoints"),
                   JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(work / "runtime"))
        env.setdefault("COURSE_MNIST_STANDIN", "1")
        if env.get("COURSE_DATA_DIR"):
            env.setdefault("COURSE_OFFLINE", "1")
        with steps.step("JupyterLab starts") as info:
            lab = Lab(work, env, OUT / "jupyter.log")
            version = lab.wait_ready(90)
            info["detail"] = (f"server {version} on 127.0.0.1:{lab.port}, {'full' if args.full else 'quick'} mode, "
                              f"notebooks copied to {work}")
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        for notebook in notebooks:
            copy = work / folder.name / notebook.name
            with contextlib.suppress(Failed):
                if explorer_cell(json.loads(copy.read_text())) is not None:
                    check_explorer(context, lab, copy, folder.name, steps, args.timeout)
                else:
                    check_first_cells(context, lab, copy, folder.name, steps, args.timeout)
    finally:
        if browser is not None:
            browser.close()
        if lab is not None:
            lab.stop()
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- site
# Sphinx marks every formula with the class "math"; MathJax replaces the formula's text inside it by an
# <mjx-container>. Waiting for MathJax's start-up promise covers the page's first typesetting pass.
TYPESET_JS = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    const formulas = Array.from(document.querySelectorAll('.math'));
    return [formulas.length, formulas.filter(f => f.querySelector('mjx-container')).length];
}"""


def check_site(pw, chromium: str, site: Path, steps: Steps, required: bool) -> None:
    """Serve ``site`` on localhost, open its index and a lecture page: status 200, no broken image, no script
    error, every formula typeset by MathJax; a full-page screenshot of each. A site that was not built is skipped with a line, or is a failed
    step when ``required`` (its folder was named with --site)."""
    if not (site / "index.html").is_file():
        shown = site.relative_to(REPO_ROOT) if site.is_relative_to(REPO_ROOT) else site
        if required:
            with contextlib.suppress(Failed), steps.step("site: index"):
                raise Failed(f"{shown}/index.html is missing (`bash course.sh site --out {shown}`)")
        else:
            print(f"- the course site was not built ({shown}/index.html missing: `bash course.sh site`); skipped")
        return

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:   # one line per request would bury the results
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        lecture = lecture_page(site)
        for name, path in (("index", site / "index.html"), ("lecture page", lecture)):
            with contextlib.suppress(Failed), steps.step(f"site: {name}") as info:
                if path is None:
                    raise Failed("no lecture page: the index links to no .html page and there is no other one")
                relative = path.relative_to(site).as_posix()
                errors.clear()
                response = page.goto(f"http://127.0.0.1:{server.server_port}/{relative}", wait_until="load")
                if response is None or response.status != 200:
                    raise Failed(f"{relative}: HTTP {response.status if response else 'no response'}")
                broken = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0)"
                                       ".map(i => i.getAttribute('src'))")
                if broken or errors:
                    raise Failed(f"{relative}: {len(broken)} broken images {broken[:3]}, script errors {errors[:2]}")
                formulas, typeset = page.evaluate(TYPESET_JS)
                if typeset < formulas:
                    raise Failed(f"{relative}: {formulas - typeset} of {formulas} formulas not typeset "
                                 "(MathJax did not load: is sphinx-mathjax-offline installed?)")
                shot = f"site-{'index' if name == 'index' else path.stem}.png"
                page.screenshot(path=str(OUT / shot), full_page=True)
                images = page.evaluate("document.images.length")
                info["detail"] = (f"{relative} \"{page.title()}\", {images} images, {typeset} formulas typeset, "
                                  f"screenshot {shot}")
    finally:
        browser.close()
        server.shutdown()


# ---------------------------------------------------------------------------------------------- main
def write_report(steps: Steps, seconds: float, args, chromium_version: str) -> None:
    command = " ".join(["bash course.sh check-browser", *sys.argv[1:]])
    summary = (f"Chromium {chromium_version}, {'full' if args.full else 'quick'} mode, "
               f"{time.strftime('%Y-%m-%d %H:%M')}, {seconds:.0f} s in all: "
               f"{len(steps.rows) - steps.failed} of {len(steps.rows)} steps passed.")
    lines = ["# Browser check", "", f"`{command}`", "", summary, "",
             "| step | result | seconds | what was seen |", "|---|---|---:|---|"]
    for name, ok, secs, detail in steps.rows:
        lines.append(f"| {name} | {'✓' if ok else '✗'} | {secs:.1f} | {detail.replace('|', '/')} |")
    shots = sorted(p.name for p in OUT.glob("*.png"))
    lines += ["", "Screenshots: " + ", ".join(f"[{s}]({s})" for s in shots), ""]
    (OUT / "report.md").write_text("\n".join(lines))


def under_ci() -> bool:
    """CI=true (or 1/yes): there a check that cannot run is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", nargs="*", default=[], metavar="NN", help="lecture numbers (default: all)")
    parser.add_argument("--folder", type=Path, default=NOTEBOOKS,
                        help="the notebooks to check (default: notebooks/, the student versions)")
    parser.add_argument("--full", action="store_true", help="full mode: the budgets students run (slower)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds one notebook's run may take")
    parser.add_argument("--site", type=Path, help="the built course site, which must then exist (default: build/site, "
                                                  "skipped when not built)")
    parser.add_argument("--site-only", action="store_true", help="only check the course site")
    parser.add_argument("--if-available", action="store_true",
                        help="skip with one line when Chromium cannot be had (the test command; never under CI=true)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser to drive (default: {CHROMIUM})")
    args = parser.parse_args()
    folder = args.folder.resolve()
    notebooks = [] if args.site_only else selected_notebooks(folder, args.notebooks)
    if not args.site_only and not notebooks:
        print(f"check-browser: no notebook in {folder} matches {args.notebooks}", file=sys.stderr)
        return 2
    try:
        chromium = ensure_chromium(args.chromium)
        sync_api = ensure_playwright()
    except Missing as missing:
        if args.if_available and not under_ci():
            print(f"check-browser: skipped ({missing})")
            return 0
        print(f"check-browser: {missing}", file=sys.stderr)
        return 1
    version = subprocess.run([chromium, "--version"], check=False, capture_output=True, text=True).stdout.strip()
    print(f"{version}; screenshots and report in {OUT.relative_to(REPO_ROOT)}/", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    start, steps = time.perf_counter(), Steps()
    with sync_api.sync_playwright() as pw:
        if notebooks:
            with contextlib.suppress(Failed):
                check_notebooks(pw, chromium, folder, notebooks, steps, args)
        site_required = args.site is not None and not (args.if_available and not under_ci())
        check_site(pw, chromium, (args.site or SITE).resolve(), steps, required=site_required)
    seconds = time.perf_counter() - start
    write_report(steps, seconds, args, version.removeprefix("Chromium ").split()[0] if version else "?")
    print(f"{'All' if not steps.failed else 'FAILED:'} {len(steps.rows) - steps.failed} of {len(steps.rows)} steps "
          f"passed in {seconds:.0f} s; report: {(OUT / 'report.md').relative_to(REPO_ROOT)}")
    return 1 if steps.failed else 0


if __name__ == "__main__":
    sys.exit(main())
