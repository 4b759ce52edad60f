"""nbgrader's exchange on one machine: an instructor's course and simulated students, for the exchange tests.

The exchange is a temporary directory. Each simulated student has their own
home (so their own nbgrader cache, which is where a submission's secret is
kept and so what fetch_feedback matches feedback against) and their own
working directory. nbgrader 0.9 takes the student id for ``submit`` and
``fetch_feedback`` from ``--student`` when given, otherwise from the
operating-system account running it (``pwd.getpwuid(os.getuid())``; on a
JupyterHub whose accounts are all ``jovyan``, from ``JUPYTERHUB_USER``). One
account plays every student here, so each passes ``--student``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import REPO

COURSE_ID = "nn-course"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without an activated venv or a class exchange, this Python's bin first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "NBGRADER_EXCHANGE")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return {**env, **extra}


def run(args: list[str], cwd: Path, env: dict[str, str], check: bool = True,
        timeout: float = 900) -> subprocess.CompletedProcess:
    """Run a command; when ``check``, AssertionError with the command and the end of its output if it fails."""
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(map(str, args))} (in {cwd}) exited {proc.returncode}:\n"
                             f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    return proc


def nbgrader(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "nbgrader", *args], cwd, env, check)


def link_environment(dest: Path) -> None:
    """Make ``make`` usable in the course copy ``dest``: the Makefile, and this checkout's .venv, already set up.

    The copy's pyproject.toml is dated long ago, so that make never finds the
    environment out of date there: a `make setup` run from a copy would
    reinstall the shared .venv's editable nnlib pointing at the copy.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Makefile", dest)
    shutil.copy(REPO / "pyproject.toml", dest)
    os.utime(dest / "pyproject.toml", (LONG_AGO, LONG_AGO))
    (dest / ".venv").symlink_to(REPO / ".venv")


LONG_AGO = 946684800  # 2000-01-01


def copy_course(dest: Path) -> Path:
    """A copy of the course as an instructor has it (no git, no gradebook), sharing this checkout's .venv."""
    link_environment(dest)
    shutil.copy(REPO / "nbgrader_config.py", dest)
    for name in ("solutions", "exercises"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


@dataclass
class Instructor:
    course: Path
    exchange: Path

    @property
    def env(self) -> dict[str, str]:
        return clean_env(NBGRADER_EXCHANGE=str(self.exchange))

    def nbgrader(self, *args: str) -> str:
        return nbgrader(list(args), self.course, self.env).stdout


@dataclass
class Student:
    """A student with their own home and working directory, using the exchange under ``student_id``."""

    student_id: str
    root: Path
    exchange: Path

    def __post_init__(self):
        for folder in (self.home, self.work):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def env(self) -> dict[str, str]:
        env = clean_env(HOME=str(self.home), USER=self.student_id)
        for var in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
            env.pop(var, None)  # the nbgrader cache lives in the student's own home
        return env

    def nbgrader(self, command: str, assignment: str, *flags: str, check: bool = True) -> subprocess.CompletedProcess:
        args = [command, assignment, f"--course={COURSE_ID}", f"--Exchange.root={self.exchange}", *flags]
        if command in ("submit", "fetch_feedback"):
            args.append(f"--student={self.student_id}")
        return nbgrader(args, self.work, self.env, check)

    def fetch(self, assignment: str, *flags: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.nbgrader("fetch_assignment", assignment, *flags, check=check)

    def submit(self, assignment: str) -> subprocess.CompletedProcess:
        return self.nbgrader("submit", assignment)

    def fetch_feedback(self, assignment: str) -> list[Path]:
        self.nbgrader("fetch_feedback", assignment)
        return sorted((self.work / assignment / "feedback").glob("*/*.html"))
