"""nbgrader preprocessors the course adds to autograding and feedback (see nbgrader_config.py).

Imported by nbgrader only; nothing else in nnlib imports nbgrader.

Autograding:
    RestoreCellRoles          nbgrader's OverwriteCells, which also puts back a test or answer cell's role
    GuardedExecute            runs the notebook like nbgrader's Execute, with the grader's defences
                              (scan.py before, sentinel.py inside the kernel, a dead kernel restarted)
    StderrIsNotFailure        stderr (warnings, progress bars) does not fail a test cell
    LimitOutputCharacters     caps every output's size (nbgrader's LimitOutput counts lines only)
    SaveAutoGradesAndFlags    nbgrader's SaveAutoGrades; cells the defences flagged need a manual grade
Feedback:
    HideHiddenTests           hidden tests' source and tracebacks stay out of the students' feedback
"""
from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, OverwriteCells, SaveAutoGrades
from traitlets import Integer

from . import scan

FLAG = "nnlib_integrity"  # cell metadata key: what the defences found about this test cell
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*$", re.S | re.M)
INSTRUCTOR = "This notebook is flagged for your instructor, who will review it."


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_kind(cell) -> str:
    """'test', 'answer', 'given' (read-only) or 'added' (a cell the student added)."""
    md = _nbgrader(cell)
    if md.get("grade") and not md.get("solution"):
        return "test"
    if md.get("solution"):
        return "answer"
    if md.get("locked"):
        return "given"
    return "added"


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _flag(cell, message: str) -> None:
    cell.metadata.setdefault(FLAG, [])
    if message not in cell.metadata[FLAG]:
        cell.metadata[FLAG].append(message)


class GuardedExecute(Execute):
    """nbgrader's Execute with the course's defences against tampering and broken submissions.

    Before running: ``scan`` reads every student cell. A cell that uses the course
    library's implementation (or torch where the answer is numpy) zeroes the tests that
    use what that cell defines; a cell that tampers zeroes every test after it. While
    running: the kernel's sentinel refuses frame reads, file access to the solutions and
    gradebook, processes, ctypes and code swaps, and before and after each test cell puts
    back whatever student code changed. Changes undone before a test flag the notebook;
    changes made while a test ran zero that test. A kernel that dies (``os._exit``, a
    crash, memory) is restarted and the notebook run again without the cell that killed
    it, which scores what it deserves: its tests fail. Every zero from a defence carries
    a message in the cell and flags the cell for manual grading (SaveAutoGradesAndFlags).
    """

    max_restarts = Integer(3, help="Kernel restarts per notebook after the kernel died").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        resources = resources or {}
        self._workdir = resources.get("metadata", {}).get("path") or os.getcwd()
        self._plan(nb, resources)
        dead: dict[int, str] = {}
        for attempt in range(self.max_restarts + 1):
            self._skip = dict(dead)
            try:
                nb, resources = super().preprocess(nb, resources, km)
                break
            except DeadKernelError:
                index = self._current
                dead[index] = ("the kernel died while running this cell (os._exit, exit(), a crash or running out "
                               "of memory); the notebook was run again without it")
                if attempt == self.max_restarts:
                    for i in range(index, len(nb.cells)):
                        if nb.cells[i].cell_type == "code":
                            nb.cells[i].outputs = [_error("KernelDied", dead[index])]
        for index, why in dead.items():
            _flag(nb.cells[index], why)
            for test in self._tests_after(nb, index):
                _flag(nb.cells[test], f"a cell above ({self._label(nb.cells[index])}) killed the kernel")
        return nb, resources

    # -- before running: the scan ----------------------------------------------
    def _plan(self, nb, resources) -> None:
        """Scan student cells; decide which test cells lose their points, and why."""
        references = self._reference_answers(resources)
        aliases: dict[str, str] = {}
        protected: set[str] = set()
        self._protect_after: dict[int, list[str]] = {}
        self._zero: dict[int, list[str]] = {}
        reads = {i: scan.loaded_names(c.source) for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and cell_kind(c) == "test"}  # test cell -> the names it reads
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            kind = cell_kind(cell)
            if kind in ("answer", "added"):
                reference = references.get(_nbgrader(cell).get("grade_id")) if kind == "answer" else None
                findings = scan.scan_cell(cell.source, aliases, protected, reference)
                later = [i for i in reads if i > index]
                defined = scan.bound_names(cell.source) if findings else set()
                for finding in findings:
                    tests = later if finding.kind == "tamper" else [i for i in later if reads[i] & defined]
                    for test in tests:
                        self._zero.setdefault(test, []).append(f"{self._label(cell)}, {finding}")
            else:
                names = scan.protected_by(cell.source, kind == "test")
                protected |= names
                self._protect_after[index] = sorted(names)
            aliases.update(scan.imported_names(cell.source))

    def _reference_answers(self, resources) -> dict[str, str]:
        """grade_id -> reference answer, from the course's source notebook (empty when not found)."""
        info = resources.get("nbgrader", {})
        root = Path(self._course_root())
        source = self.config.get("CourseDirectory", {}).get("source_directory") or "source"
        path = root / source / str(info.get("assignment", "")) / f"{info.get('notebook', '')}.ipynb"
        if not path.is_file():
            self.log.warning("no source notebook at %s: answers are not compared with the reference's library use",
                             path)
            return {}
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return {_nbgrader(c).get("grade_id"): "".join(c["source"]) for c in cells if _nbgrader(c).get("solution")}

    @staticmethod
    def _label(cell) -> str:
        gid = _nbgrader(cell).get("grade_id")
        return f"answer cell {gid!r}" if gid else "a cell you added"

    @staticmethod
    def _tests_after(nb, index: int) -> list[int]:
        return [i for i in range(index + 1, len(nb.cells)) if cell_kind(nb.cells[i]) == "test"
                and nb.cells[i].cell_type == "code"]

    def _course_root(self) -> str:
        return self.config.get("CourseDirectory", {}).get("root") or os.getcwd()

    # -- while running: the sentinel -----------------------------------------
    def _kernel_call(self, expression: str):
        """Evaluate ``expression`` in the kernel through user_expressions (no input transformers run)."""
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"r": expression})
        try:
            reply = self.wait_for_reply(msg_id)
        except TimeoutError:
            # still busy with a cell that timed out and ignored the interrupt: nothing can be checked
            # now, and the next cell meets the same busy kernel (and its own timeout)
            return TimeoutError("the kernel did not answer")
        result = (reply or {}).get("content", {}).get("user_expressions", {}).get("r", {})
        if result.get("status") != "ok":
            return RuntimeError(f"{result.get('ename', 'no reply')}: {result.get('evalue', '')}")
        return ast.literal_eval(result["data"]["text/plain"])

    def _sentinel(self, call: str):
        return self._kernel_call(f"__import__('sys').modules['nnlib.grading.sentinel'].{call}")

    def _check(self) -> list[str]:
        found = self._sentinel("SENTINEL.check()")
        if isinstance(found, TimeoutError):
            self.log.warning("the kernel was busy (a cell timed out): the grader's check was skipped")
            return []
        if isinstance(found, Exception):
            return [f"the grader's checks could not run ({found})"]
        return json.loads(found)

    def preprocess_cell(self, cell, resources, index):
        self._current = index
        if getattr(self, "_installed", None) is not self.kc:  # a new kernel: each notebook, each restart
            done = self._kernel_call(f"__import__('nnlib.grading.sentinel', fromlist=['install'])"
                                     f".install({str(self._course_root())!r}, {str(self._workdir)!r})")
            if isinstance(done, Exception):
                raise RuntimeError(f"the grader could not install its sentinel in the kernel: {done}")
            self._installed = self.kc
        if cell.cell_type != "code":
            return cell, resources
        if index in self._skip:
            cell.outputs = [_error("KernelDied", self._skip[index])]
            return cell, resources
        kind = cell_kind(cell)
        before = self._check() if kind == "test" else []
        self._sentinel(f"SENTINEL.student_cell({kind in ('answer', 'added')})")
        cell, resources = super().preprocess_cell(cell, resources, index)
        if kind in ("given", "test"):
            self._sentinel(f"after_read_only_cell({self._protect_after.get(index, [])!r})")
        if kind != "test":
            return cell, resources
        for output in cell.outputs:
            # nbgrader reads a test cell's first execute_result as a partial score, before any error
            # after it: a value a test happens to end on must neither score nor hide a failure
            if output.get("output_type") == "execute_result":
                output["output_type"] = "display_data"
                output.pop("execution_count", None)
        after = self._check()
        if before:
            note = ("Before this test ran, the grader found what your code did to the tools the tests use, or "
                    f"tried and was refused: {'; '.join(before)}. All was undone, and the test ran on the originals. "
                    f"{INSTRUCTOR}")
            cell.outputs.append(NotebookNode(output_type="stream", name="stdout", text=note + "\n"))
            _flag(cell, note)
        if after:
            message = ("while this test ran, your code changed what the test relies on, or tried something not "
                       f"allowed while grading: {'; '.join(after)}. This test scores 0. {INSTRUCTOR}")
            cell.outputs.append(_error("GradingIntegrityError", message))
            _flag(cell, message)
        if index in self._zero:
            message = ("not graded automatically: " + "; ".join(dict.fromkeys(self._zero[index])) +
                       f". This test scores 0. {INSTRUCTOR}")
            cell.outputs.append(_error("GradingIntegrityError", message))
            _flag(cell, message)
        return cell, resources


class RestoreCellRoles(OverwriteCells):
    """nbgrader's OverwriteCells, which also restores whether a cell is a test (with its points) or an answer.

    OverwriteCells restores a read-only cell's source and lock, but not its role: a student
    who unticks "autograder tests" on a test cell (JupyterLab's cell toolbar allows it) made
    nbgrader fail on the whole submission ("Inconsistent checksums"), which then got no grade
    at all. The gradebook knows each cell's role; it is put back first.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        md = _nbgrader(cell)
        gid = md.get("grade_id")
        if gid is not None:
            try:
                graded = self.gradebook.find_graded_cell(gid, self.notebook_id, self.assignment_id)
            except MissingEntry:
                graded = None
            try:
                self.gradebook.find_solution_cell(gid, self.notebook_id, self.assignment_id)
                solution = True
            except MissingEntry:
                solution = False
            if graded is not None and not md.get("grade"):
                self.report_change(gid, "grade", True, md.get("grade"))
                md["grade"], md["points"] = True, float(graded.max_score)
            if bool(md.get("solution")) != solution:
                self.report_change(gid, "solution", solution, md.get("solution"))
                md["solution"] = solution
        return super().preprocess_cell(cell, resources, cell_index)


class StderrIsNotFailure(NbGraderPreprocessor):
    """Relabel stderr output as stdout so that only exceptions fail a test cell.

    nbgrader scores 0 any test cell that wrote to stderr, so a harmless
    ``RuntimeWarning`` or a progress bar in a correct answer would lose its
    points. The course's test cells signal failure by raising, which nbgrader
    records as an ``error`` output and still scores 0. The text stays visible
    to the student, under stdout.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        return cell, resources


class LimitOutputCharacters(NbGraderPreprocessor):
    """Cap the size of every output, so one huge line cannot bloat the graded notebook and the feedback.

    nbgrader's LimitOutput counts lines: one print of 20 million characters on a
    single line passes it whole. Text (streams, text/* data, error values and each
    traceback line) is cut to ``max_chars`` characters per output; any other data
    (images) larger than ``max_data`` characters is replaced by a note.
    """

    max_chars = Integer(10_000, help="characters kept per text output").tag(config=True)
    max_data = Integer(2_000_000, help="largest non-text output (base64 characters) kept").tag(config=True)

    def _cut(self, text):
        if isinstance(text, list):
            text = "".join(text)
        if len(text) <= self.max_chars:
            return text
        return text[:self.max_chars] + f"\n... output truncated by the grader ({len(text):,} characters) ..."

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = self._cut(output.get("text", ""))
            elif output.get("output_type") == "error":
                output["evalue"] = self._cut(output.get("evalue", ""))
                output["traceback"] = [self._cut(line) for line in output.get("traceback", [])]
            for mime, value in list(output.get("data", {}).items()):
                if mime.startswith("text/") or mime.endswith("json"):
                    if isinstance(value, (str, list)):
                        output["data"][mime] = self._cut(value)
                elif len(str(value)) > self.max_data:
                    output["data"] = {"text/plain": f"[a {mime} output of {len(str(value)):,} characters was "
                                                    "removed by the grader]"}
                    break
        return cell, resources


class SaveAutoGradesAndFlags(SaveAutoGrades):
    """nbgrader's SaveAutoGrades; a test cell the defences flagged is marked as needing a manual grade."""

    def _add_score(self, cell, resources) -> None:
        super()._add_score(cell, resources)
        if cell.metadata.get(FLAG):
            grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                              self.assignment_id, self.student_id)
            grade.needs_manual_grade = True
            self.gradebook.db.commit()


class HideHiddenTests(NbGraderPreprocessor):
    """For the students' feedback: hidden tests' source and tracebacks are removed; the message stays.

    A test cell shows its visible part and a line saying hidden tests ran; its
    error outputs keep only the failure message (``ename: evalue``), since a
    traceback quotes the failing hidden line.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and cell_kind(cell) == "test":
            cell.source = HIDDEN.sub("# (hidden tests ran here; their code is not shown)", cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources
