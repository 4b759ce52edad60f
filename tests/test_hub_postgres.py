"""The README's JupyterHub deployment, smoke-tested on one machine with a real PostgreSQL gradebook.

A PostgreSQL server (Debian's `postgresql` package) is started in a
temporary directory, listening on a unix socket only. The README's two
nbgrader configuration files (the global one every user reads, and the
course's grader account's) are installed into a temporary home and config
path with the README's placeholders replaced by the temporary paths and the
server's URL. Then the grader generates and releases unit 01, a student
fetches it (into a folder named after the course, as the multi-course setup
does), answers it and submits, and the grader collects and autogrades it:
the score is read back from PostgreSQL, and no SQLite gradebook appears.

Only the hub itself is absent: JupyterHub's authenticator plugin asks the hub
which courses a user is in, so these commands use nbgrader's default plugin.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from exchange import clean_env, nbgrader
from harness import REPO, Submission

pytestmark = pytest.mark.exchange

UNIT, NAME, COURSE = "01_backprop", "backprop", "nn-course"
NO_HUB = "--Authenticator.plugin_class=nbgrader.auth.NoAuthPlugin"


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on a unix socket in a temporary directory; yields a SQLAlchemy URL for a fresh database."""
    bindir = _bin_dir()
    if bindir is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are missing: apt-get install postgresql "
                    "(.ci/run does)")
    pytest.importorskip("psycopg2", reason="psycopg2-binary is in the `test` extra")
    # initdb refuses to run as root: run the server as the `postgres` account (or nobody) when we are root
    user = None
    if os.geteuid() == 0:
        for name in ("postgres", "nobody"):
            try:
                user = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        if user is None:
            pytest.skip("running as root and no unprivileged account (postgres, nobody) to run PostgreSQL as")
    root = Path(tempfile.mkdtemp(prefix="nn-course-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    as_user = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    data, log, port = root / "data", root / "server.log", _free_port()
    env = {**os.environ, "LC_ALL": "C"}

    def pg(*args, check=True):
        proc = subprocess.run([str(bindir / args[0]), *args[1:]], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120, **as_user)
        if check and proc.returncode:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}\n{tail}")
        return proc

    pg("initdb", "-D", str(data), "-A", "trust", "-U", "nbgrader", "-E", "UTF8", "--no-sync", "--no-instructions")
    pg("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
       "-o", f"-c listen_addresses='' -k {root} -p {port} -c fsync=off")
    try:
        import psycopg2

        conn = psycopg2.connect(dbname="postgres", user="nbgrader", host=str(root), port=port)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE nn_course")
        conn.close()
        yield f"postgresql+psycopg2://nbgrader@/nn_course?host={root}&port={port}"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


def _readme_block(marker: str) -> str:
    text = (REPO / "README.md").read_text()
    found = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```", text, re.S)
    assert found, f"README.md has no ```python block after <!-- {marker} -->"
    return found.group(1)


def test_readme_hub_config_grades_a_submission_into_postgresql(postgres, tmp_path):
    exchange, course = tmp_path / "srv-exchange", tmp_path / "grader" / COURSE
    exchange.mkdir()
    exchange.chmod(0o1777)
    course.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / UNIT, course / "solutions" / UNIT)

    # The README's global config, in a config directory of its own (on the hub: /etc/jupyter).
    global_config = _readme_block("hub-global-config")
    assert "/srv/nbgrader/exchange" in global_config and "path_includes_course" in global_config
    etc = tmp_path / "etc-jupyter"
    etc.mkdir()
    (etc / "nbgrader_config.py").write_text(global_config.replace("/srv/nbgrader/exchange", str(exchange)))
    # The README's grader config, in the grader's home.
    grader_config = _readme_block("hub-grader-config")
    assert "postgresql+psycopg2://" in grader_config and "/home/grader-nn-course/nn-course" in grader_config
    grader_config = re.sub(r"postgresql\+psycopg2://[^\"']*", postgres, grader_config)
    grader_home = tmp_path / "grader"
    (grader_home / ".jupyter").mkdir()
    (grader_home / ".jupyter" / "nbgrader_config.py").write_text(
        grader_config.replace("/home/grader-nn-course/nn-course", str(course)))

    def env(home: Path, **extra: str) -> dict[str, str]:
        e = clean_env(HOME=str(home), JUPYTER_CONFIG_PATH=str(etc), **extra)
        for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR"):
            e.pop(var, None)
        return e

    grader = env(grader_home, NBGRADER_EXCHANGE=str(exchange))  # as the README's hub service sets it
    nbgrader(["generate_assignment", UNIT, "--force"], course, grader)
    nbgrader(["release_assignment", UNIT, NO_HUB], course, grader)

    student_home = tmp_path / "student"
    student_home.mkdir()
    student = env(student_home)
    nbgrader(["fetch_assignment", UNIT, f"--course={COURSE}", NO_HUB], student_home, student)
    fetched = student_home / COURSE / UNIT / f"{NAME}.ipynb"  # path_includes_course: one folder per course
    assert fetched.is_file(), f"fetch_assignment did not create {fetched}: {sorted(student_home.rglob('*.ipynb'))}"
    nbformat.write(Submission("student").notebook(UNIT, NAME), fetched)
    nbgrader(["submit", UNIT, f"--course={COURSE}", "--student=ada", NO_HUB], student_home, student)

    nbgrader(["collect", UNIT, NO_HUB], course, grader)
    nbgrader(["autograde", UNIT], course, grader)

    assert not (course / "gradebook.db").exists(), "nbgrader wrote an SQLite gradebook instead of using PostgreSQL"
    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        nb = gb.find_submission_notebook(NAME, UNIT, "ada")
        assert nb.max_score > 0 and nb.score == nb.max_score, f"ada scored {nb.score} / {nb.max_score}"
        assert [s.id for s in gb.students] == ["ada"]


def test_readme_hub_configs_are_valid_nbgrader_configs(tmp_path):
    """Without PostgreSQL too: both README files load and set what the README says they set."""
    from traitlets.config.loader import PyFileConfigLoader

    for marker in ("hub-global-config", "hub-grader-config"):
        (tmp_path / marker).mkdir()
        (tmp_path / marker / "nbgrader_config.py").write_text(_readme_block(marker))
    glob = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path / "hub-global-config")).load_config()
    assert glob.Exchange.root == "/srv/nbgrader/exchange" and glob.Exchange.path_includes_course is True
    assert glob.Authenticator.plugin_class.__name__ == "JupyterHubAuthPlugin"
    grader = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path / "hub-grader-config")).load_config()
    assert grader.CourseDirectory.course_id == COURSE
    assert grader.CourseDirectory.db_url.startswith("postgresql+psycopg2://")
