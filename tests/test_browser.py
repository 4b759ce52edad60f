"""The course as students and instructors meet it: JupyterLab and nbgrader in a real (headless) browser.

One JupyterLab server, started by the Makefile as `make lab` starts it, in a
scratch course that holds lecture 01, unit 01's student version and one
autograded submission. A headless Chromium (Debian's `chromium`, driven by
Playwright; nothing is downloaded) then

1. opens lecture 01, runs all cells, and checks that the plots render and
   that the "hidden units" slider appears and redraws its plot when moved;
2. opens the exercise, writes one answer, presses nbgrader's Validate, and
   reads the result: the answered test passes, the unanswered ones fail;
   a copy with every answer written validates as a success;
3. opens the formgrader and finds the graded submission with its score.

Screenshots of every step go to artifacts/browser/ (not committed). A
failure names the step, the screenshot and the end of the server's log.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from exchange import link_environment
from harness import REPO, Submission, make_course, run_nbgrader, submit

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("NNLIB_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "artifacts" / "browser"
UNIT, NAME = "01_backprop", "backprop"
LECTURE = "01_neural_networks.ipynb"
TOKEN = uuid.uuid4().hex
WAIT_MS = 120_000  # generous: two shared cores, a kernel start, a whole lecture


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server run by `make lab` in a scratch course; ``fail`` adds its log and a screenshot."""

    def __init__(self, course: Path, scratch: Path):
        self.course, self.log_path = course, scratch / "lab.log"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ}
        for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                         ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython")):
            env[var] = str(scratch / sub)
        env.pop("NBGRADER_EXCHANGE", None)
        args = (f"--no-browser --ip=127.0.0.1 --port={self.port} --ServerApp.token={TOKEN} "
                "--ServerApp.port_retries=0")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=course,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=env)

    def wait_ready(self, timeout: float = 120):
        deadline = time.time() + timeout
        while True:
            try:
                req = urllib.request.Request(self.base + "/api/status", headers={"Authorization": f"token {TOKEN}"})
                urllib.request.urlopen(req, timeout=10).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start (`make lab` in {self.course}):\n{self.log_tail()}")
                time.sleep(0.5)

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Scratch course with lecture 01, unit 01 released, and alice's autograded submission; the lab running in it."""
    scratch = tmp_path_factory.mktemp("browser")
    course = make_course(scratch / "course", UNIT)
    submit(course, UNIT, NAME, [Submission("alice")])
    run_nbgrader(["autograde", UNIT], cwd=course)
    (course / "lectures").mkdir()
    shutil.copy(REPO / "lectures" / LECTURE, course / "lectures")
    link_environment(course)  # `make lab` runs there as in a checkout
    server = Lab(course, scratch)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the `test` extra")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, lab, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    pg.lab, pg.step = lab, request.node.name
    try:
        yield pg
    finally:
        context.close()


class Step:
    """One step of a test: screenshot on the way out; on failure, an error with the screenshot and server log."""

    def __init__(self, page, name: str):
        self.page, self.name = page, name
        self.shot = ARTIFACTS / f"{page.step}--{name}.png"

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        try:
            self.page.screenshot(path=str(self.shot), full_page=False)
            where = f"screenshot: {self.shot}"
        except Exception as shot_err:  # the page itself may be what failed
            where = f"no screenshot ({shot_err})"
        if err is not None and not isinstance(err, pytest.skip.Exception):
            raise AssertionError(f"step '{self.name}' failed: {kind.__name__}: {err}\n{where}\n"
                                 f"--- end of the JupyterLab log\n{self.page.lab.log_tail()}") from err
        return False


VISIBLE = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in front (other tabs stay in the DOM)


def _open_notebook(page, path: str):
    # `reset`: a fresh workspace, so that tabs another test opened are not restored
    page.goto(f"{page.lab.base}/lab/tree/{path}?reset&token={TOKEN}")
    page.locator(f"{VISIBLE} .jp-Notebook .jp-Cell").first.wait_for()
    _kernel_idle(page)  # the toolbar's kernel status: started and ready


def _menu(page, top: str, item: str):
    page.locator("#jp-MainMenu").get_by_text(top, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).first.click()


def _run_all(page, attempts: int = 3):
    """Run > Run All Cells, again if no cell has started a minute later.

    On a loaded machine a freshly started kernel can report idle before its
    session takes requests; the first Run All is then dropped without a trace
    (every prompt stays ``[ ]``). Nothing runs twice: it is repeated only while
    no prompt shows ``[*]`` or a number.
    """
    started = """sel => [...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputPrompt')]
                     .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(attempts):
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(started, arg=VISIBLE, timeout=60_000)
            return
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise


def _wait_all_run(page, code_cells: int, timeout_ms: int = 300_000):
    """All ``code_cells`` code cells of the open notebook have run: numbered prompts, none queued or running."""
    page.wait_for_function(
        """([sel, n]) => {
            const prompts = [...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputPrompt')];
            return prompts.length === n && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", arg=[VISIBLE, code_cells], timeout=timeout_ms)
    _kernel_idle(page)


def _kernel_idle(page):
    page.locator(f"{VISIBLE} .jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()


def test_lecture_runs_plots_render_and_the_slider_responds(page):
    with Step(page, "1-open-lecture"):
        _open_notebook(page, f"lectures/{LECTURE}")
    with Step(page, "2-run-all"):
        _run_all(page)
        code_cells = sum(c.cell_type == "code" for c in nbformat.read(REPO / "lectures" / LECTURE, as_version=4).cells)
        _wait_all_run(page, code_cells)
        errors = page.locator(f"{VISIBLE} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                              has_text="Traceback")
        assert errors.count() == 0, f"a cell raised: {errors.first.inner_text()[:2000]}"
    with Step(page, "3-plots"):
        images = page.locator(f"{VISIBLE} .jp-OutputArea-output img")
        assert images.count() >= 5, f"only {images.count()} plots rendered"
        broken = page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output img')]
                                        .filter(i => !(i.complete && i.naturalWidth > 100)).length""")
        assert broken == 0, f"{broken} plot image(s) did not load"
    with Step(page, "4-slider"):
        widget = page.locator(f"{VISIBLE} .jp-OutputArea-output .widget-interact", has=page.locator(".widget-slider"))
        widget.first.scroll_into_view_if_needed()
        slider = widget.first.locator(".widget-slider").first
        assert "hidden units" in slider.text_content(), slider.inner_html()[:2000]
        readout = slider.locator(".widget-readout")
        plot = widget.first.locator("img")
        plot.first.wait_for()
        before_value, before_plot = readout.text_content().strip(), plot.first.get_attribute("src")
        handle = slider.locator(".noUi-handle, [role='slider']").first
        handle.focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("([el, v]) => el.textContent.trim() !== v", arg=[readout.element_handle(), before_value])
        page.wait_for_function(
            "([w, src]) => { const i = w.querySelector('img'); return i && i.getAttribute('src') !== src && i.naturalWidth > 100; }",
            arg=[widget.first.element_handle(), before_plot])
        assert int(readout.text_content()) > int(before_value), "the slider's value did not increase"
        _kernel_idle(page)


def test_exercise_answer_validates_in_the_lab(page):
    answer = 'def linear_forward(x, W, b):\n    """Affine map."""\n    return x @ W.T + b\n'
    with Step(page, "1-open-exercise"):
        _open_notebook(page, f"exercises/{UNIT}/{NAME}.ipynb")
        toolbar = page.locator(f"{VISIBLE} .jp-NotebookPanel-toolbar")
        toolbar.get_by_text("Validate").wait_for()
    with Step(page, "2-answer"):
        cell = page.locator(f"{VISIBLE} .jp-CodeCell", has_text="def linear_forward(x, W, b):").first
        cell.scroll_into_view_if_needed()
        editor = cell.locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(answer)
        page.wait_for_function("el => !el.textContent.includes('NotImplementedError')", arg=editor.element_handle())
    with Step(page, "3-validate"):
        toolbar.get_by_text("Validate").click()
        dialog = page.locator(".jp-Dialog", has_text="Validation Results")
        dialog.wait_for(timeout=240_000)
        body = dialog.inner_text()
        assert "The following cell failed" in body, body[:3000]
        assert "check_linear_backward" in body, f"the unanswered linear_backward should fail:\n{body[:3000]}"
        assert "A case you can check by hand" not in body, f"the answered linear_forward failed:\n{body[:3000]}"
    saved = (page.lab.course / "exercises" / UNIT / f"{NAME}.ipynb").read_text()
    assert "return x @ W.T + b" in saved, "Validate did not save the notebook with the answer"
    # a notebook with every answer written validates as a success
    nbformat.write(Submission("complete").notebook(UNIT, NAME), page.lab.course / "exercises" / UNIT / "complete.ipynb")
    with Step(page, "4-validate-complete"):
        _open_notebook(page, f"exercises/{UNIT}/complete.ipynb")
        page.locator(f"{VISIBLE} .jp-NotebookPanel-toolbar").get_by_text("Validate").click()
        dialog = page.locator(".jp-Dialog", has_text="Validation Results")
        dialog.wait_for(timeout=240_000)
        assert "Success! Your notebook passes all the tests." in dialog.inner_text(), dialog.inner_text()[:3000]


def test_formgrader_shows_the_graded_submission(page):
    with Step(page, "1-assignments"):
        page.goto(f"{page.lab.base}/formgrader?token={TOKEN}")
        page.get_by_text(UNIT).first.wait_for()
    with Step(page, "2-submissions"):
        page.goto(f"{page.lab.base}/formgrader/gradebook/{UNIT}/{NAME}?token={TOKEN}")
        page.get_by_role("button", name="Show All Names").click()
        row = page.locator("tr", has=page.get_by_text("alice", exact=True))
        row.wait_for()
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert "21 / 21" in cells, f"alice's row should show the score 21 / 21: {cells}"
    with Step(page, "3-submission"):
        row.get_by_role("link").first.click()
        page.get_by_text("Student's answer").first.wait_for()
        assert page.get_by_text("return x @ W.T + b").count() >= 1, "the submitted answer is not shown"
