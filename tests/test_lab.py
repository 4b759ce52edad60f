"""`make lab` smoke test: the server starts headless, serves the course, runs a lecture in a kernel.

The server is started by the Makefile exactly as a student's `make lab`,
with a port, a token and no browser added through LAB_ARGS.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from harness import REPO

pytestmark = pytest.mark.lab

TOKEN = uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    home = tmp_path_factory.mktemp("home")
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.token={TOKEN} --ServerApp.port_retries=0"
    log = open(home / "lab.log", "w")
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(home / "runtime")})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                _get(base, "/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _get(base: str, path: str, raw: bool = False):
    req = urllib.request.Request(base + path, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read().decode()
    return body if raw else json.loads(body)


def _post(base: str, path: str, payload: dict) -> dict:
    req = urllib.request.Request(base + path, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())


def test_lab_lists_the_course_notebooks(server):
    lectures = {c["name"] for c in _get(server, "/api/contents/lectures")["content"]}
    assert lectures == {p.name for p in (REPO / "lectures").glob("*.ipynb")} and lectures
    exercises = {c["name"] for c in _get(server, "/api/contents/exercises")["content"]}
    assert "01_backprop" in exercises


def test_widgets_and_nbgrader_extensions_are_enabled(server):
    page = _get(server, "/lab", raw=True)
    start = page.index('id="jupyter-config-data"')
    config = json.loads(page[page.index(">", start) + 1:page.index("</script>", start)])
    names = {ext["name"] for ext in config.get("federated_extensions", [])}
    disabled = set(config.get("disabledExtensions", []))
    for ext in ("@jupyter-widgets/jupyterlab-manager", "@jupyter/nbgrader"):
        assert ext in names, f"{ext} is not installed in JupyterLab: {sorted(names)}"
        assert ext not in disabled
    # nbgrader's server side: the assignment list behind the student's Assignments tab
    listing = _get(server, "/assignments?course_id=nn-course")
    assert listing["success"], listing
    assert "<title>nbgrader formgrade" in _get(server, "/formgrader", raw=True)


def test_a_lecture_runs_in_a_lab_kernel(server):
    lecture = sorted((REPO / "lectures").glob("*.ipynb"))[0]
    nb = nbformat.read(lecture, as_version=4)
    kernel = _post(server, "/api/kernels", {"name": "python3"})
    errors = asyncio.run(_execute(server, kernel["id"], [c.source for c in nb.cells if c.cell_type == "code"],
                                  cwd=str(lecture.parent)))
    assert not errors, f"{lecture.name} failed in the lab's kernel: {errors[0]}"


async def _execute(base: str, kernel_id: str, sources: list[str], cwd: str) -> list[str]:
    """Run each source on the server's kernel over its websocket; return the errors raised."""
    from tornado.websocket import websocket_connect

    url = base.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?token={TOKEN}"
    ws = await websocket_connect(url)
    errors: list[str] = []
    session = uuid.uuid4().hex
    for code in [f"import os; os.chdir({cwd!r}); import matplotlib; matplotlib.use('agg')", *sources]:
        msg_id = uuid.uuid4().hex
        await ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": session, "msg_type": "execute_request",
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.read_message(), timeout=300))
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            if msg["msg_type"] == "execute_reply":
                break
        if errors:
            break
    ws.close()
    return errors
