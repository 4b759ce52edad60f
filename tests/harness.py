"""Build nbgrader submissions and grade them in a scratch course: shared by the grading tests.

A submission starts from the committed student release (exercises/) and
fills its answer cells with the reference answers from solutions/, except
where a catalogue entry patches one answer with a known mistake.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from nnlib.grading import cli

REPO = Path(__file__).resolve().parents[1]


def run_nbgrader(args: list[str], cwd: Path, timeout: int = 1200) -> subprocess.CompletedProcess:
    try:
        return cli.run_nbgrader(args, cwd, timeout)
    except RuntimeError as err:
        raise AssertionError(str(err)) from None


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_test_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


def reference_answers(unit: str, name: str) -> dict[str, str]:
    """Answer-cell sources of the reference solution, without nbgrader's solution markers."""
    nb = nbformat.read(REPO / "solutions" / unit / f"{name}.ipynb", as_version=4)
    answers = {}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            lines = [ln for ln in cell.source.splitlines()
                     if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            answers[grade_id(cell)] = "\n".join(lines)
    return answers


@dataclass
class Submission:
    """One simulated student: answers patched from the reference, and notebook-level edits."""

    student: str
    patches: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # cell -> [(old, new)]
    answers: dict[str, str] = field(default_factory=dict)  # cell -> a whole replacement answer
    blank: bool = False                  # the untouched release
    delete_cells: tuple[str, ...] = ()   # grade_ids removed from the notebook
    prepend: dict[str, str] = field(default_factory=dict)  # cell -> code put before its answer
    added: tuple[tuple[str, str], ...] = ()  # (grade_id, source): a cell the student added after that cell
    edit: Callable[[nbformat.NotebookNode], None] | None = None  # any other change to the notebook

    def notebook(self, unit: str, name: str) -> nbformat.NotebookNode:
        nb = nbformat.read(REPO / "exercises" / unit / f"{name}.ipynb", as_version=4)
        if not self.blank:
            answers = reference_answers(unit, name)
            for cell in nb.cells:
                gid = grade_id(cell)
                if gid in answers:
                    source = self.answers.get(gid, answers[gid])
                    for old, new in self.patches.get(gid, []):
                        if old not in source:
                            raise ValueError(f"{self.student}: patch target {old!r} not in answer cell {gid}")
                        source = source.replace(old, new)
                    cell.source = self.prepend.get(gid, "") + source
        named = {grade_id(c) for c in nb.cells}
        unknown = (set(self.patches) | set(self.answers) | set(self.prepend) | {g for g, _ in self.added}) - named
        if unknown:
            raise ValueError(f"{self.student}: no cells named {sorted(unknown)}")
        for after, source in self.added:
            at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == after)
            nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
        nb.cells = [c for c in nb.cells if grade_id(c) not in self.delete_cells]
        if self.edit is not None:
            self.edit(nb)
        return nb


def make_course(root: Path, unit: str) -> Path:
    """A scratch nbgrader course with the unit's source and a fresh gradebook (as `make check` builds)."""
    try:
        return cli.scratch_course(root, unit)
    except RuntimeError as err:
        raise AssertionError(str(err)) from None


def submit(course: Path, unit: str, name: str, submissions: list[Submission]) -> None:
    for sub in submissions:
        folder = course / "submitted" / sub.student / unit
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(sub.notebook(unit, name), folder / f"{name}.ipynb")


def autograde_async(course: Path, unit: str, cell_timeout: int) -> subprocess.Popen:
    """Start ``nbgrader autograde`` in ``course``; its output goes to ``course/autograde.log``.

    A file, not a pipe: with two graders at once, the one whose pipe was not being read
    stalled once its output passed the pipe's 64 KiB, mid-notebook, until its kernel
    calls timed out.
    """
    with open(course / "autograde.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "nbgrader", "autograde", unit, f"--Execute.timeout={cell_timeout}"],
            cwd=course, env=cli.nbgrader_env(), stdout=log, stderr=subprocess.STDOUT)


def autograde_log(course: Path) -> str:
    return (course / "autograde.log").read_text(errors="replace")


@dataclass
class CellResult:
    score: float
    max_score: float
    message: str  # the error the student sees in that test cell ("" when it passed)
    flagged: bool = False  # marked as needing a manual grade


def results(course: Path, unit: str, name: str) -> dict[str, dict[str, CellResult]]:
    """student -> test cell grade_id -> score, max score and the failure message."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, CellResult]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub_dir in sorted((course / "autograded").iterdir()):
            student = sub_dir.name
            graded = json.loads((sub_dir / unit / f"{name}.ipynb").read_text())
            messages = {}
            for cell in graded["cells"]:
                if is_test_cell(cell):
                    errs = [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", [])
                            if o.get("output_type") == "error"]
                    messages[grade_id(cell)] = "\n".join(errs)
            nb = gb.find_submission_notebook(name, unit, student)
            out[student] = {g.name: CellResult(g.score, g.max_score, messages.get(g.name, ""),
                                               bool(g.needs_manual_grade)) for g in nb.grades}
    return out
