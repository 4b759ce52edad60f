"""A grader you can trust: right answers accepted, cheating and breaking submissions handled, the report complete.

Reads the grading that the ``graded`` fixture (conftest.py) does once per
notebook: the catalogues' right answers (tests/catalogue_*.py, ``RIGHT``) and
the tamper catalogue (tests/tamper.py), besides what test_grading_pipeline.py
checks. The soundness report (tests/soundness.py, `make soundness`) is built
from the same verdicts and must be complete.
"""
from __future__ import annotations

import json
import re

import pytest

import catalogue_01_backprop as cat01
from catalogue import catalogues
from harness import REPO, run_nbgrader
from soundness import answer_cells, right_verdict, row, table, tamper_verdict
from tamper import tampers

pytestmark = pytest.mark.grader

CATALOGUES = catalogues()


def _mark(cat):
    return getattr(pytest.mark, f"unit{cat.UNIT[:2]}")


def _id(cat):
    return f"{cat.UNIT}/{cat.NOTEBOOK}"


@pytest.mark.parametrize("cat", [pytest.param(c, marks=_mark(c), id=_id(c)) for c in CATALOGUES])
def test_every_answer_cell_has_a_right_alternative(cat):
    covered = {r.cell for r in getattr(cat, "RIGHT", [])}
    assert not [c for c in answer_cells(cat) if c not in covered], "answer cells without a RIGHT alternative"


@pytest.mark.parametrize("cat, right", [pytest.param(c, r, marks=_mark(c), id=f"{_id(c)}/{r.name}")
                                        for c in CATALOGUES for r in getattr(c, "RIGHT", [])])
def test_right_answer_scores_full_marks(graded, cat, right):
    res, _ = graded(cat)
    why = right_verdict(res, right)
    assert why is None, f"{right.name} (a correct answer for {right.cell}): {why}"


@pytest.mark.parametrize("cat, tamper", [pytest.param(c, t, marks=_mark(c), id=f"{_id(c)}/{t.name}")
                                         for c in CATALOGUES for t in tampers(c)])
def test_tamper_attempt_gets_what_it_deserves(graded, cat, tamper):
    res, _ = graded(cat)
    why = tamper_verdict(cat, res, tamper)
    assert why is None, f"{tamper.name} ({tamper.what}; handled by {tamper.handled_by}): {why}"


def test_soundness_report_is_complete(graded, capsys):
    rows = [row(cat, graded(cat)[0]) for cat in CATALOGUES]
    report = table(rows)
    (REPO / "artifacts").mkdir(exist_ok=True)
    (REPO / "artifacts" / "soundness.txt").write_text(report + "\n")
    with capsys.disabled():
        print("\n" + report)
    assert all(r.complete for r in rows), report


def _graded_notebook(course, student):
    return course / "autograded" / student / cat01.UNIT / f"{cat01.NOTEBOOK}.ipynb"


def _course_of(graded, student):
    res, _ = graded(cat01)
    _, courses, _ = graded.cache[(cat01.UNIT, cat01.NOTEBOOK)]
    return next(c for c in courses if (c / "autograded" / student).is_dir())


@pytest.mark.unit01
def test_huge_output_is_capped_in_the_graded_notebook_and_the_feedback(graded):
    course = _course_of(graded, "tamper_huge_output")
    graded_nb = _graded_notebook(course, "tamper_huge_output")
    assert graded_nb.stat().st_size < 1_000_000, f"graded notebook is {graded_nb.stat().st_size:,} bytes"
    text = graded_nb.read_text()
    assert "output truncated by the grader (20,000,001 characters)" in text
    run_nbgrader(["generate_feedback", cat01.UNIT, "--student", "tamper_huge_output"], cwd=course)
    html = course / "feedback" / "tamper_huge_output" / cat01.UNIT / f"{cat01.NOTEBOOK}.html"
    assert html.stat().st_size < 2_000_000, f"feedback is {html.stat().st_size:,} bytes"


@pytest.mark.unit01
def test_feedback_shows_the_failure_message_but_not_the_hidden_tests(graded):
    student = "wrong_tanh_square_missing"
    course = _course_of(graded, student)
    run_nbgrader(["generate_feedback", cat01.UNIT, "--student", student], cwd=course)
    html = (course / "feedback" / student / cat01.UNIT / f"{cat01.NOTEBOOK}.html").read_text()
    assert "the square is missing" in html, "the failure message is not in the feedback"
    assert "hidden tests ran here" in html
    source = json.loads((REPO / "solutions" / cat01.UNIT / f"{cat01.NOTEBOOK}.ipynb").read_text())
    hidden = [line.strip() for c in source["cells"] for block in
              re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", "".join(c["source"]), re.S)
              for line in block.splitlines() if len(line.strip()) > 25]
    assert hidden, "no hidden test lines found in the source"
    shown = [line for line in hidden if line in html or line.replace("&", "&amp;").replace("<", "&lt;")
             .replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;") in html]
    assert not shown, f"hidden test code in the feedback: {shown[:3]}"
    assert "BEGIN HIDDEN TESTS" not in html


@pytest.mark.unit01
def test_a_dead_kernel_is_restarted_and_the_cell_that_killed_it_says_so(graded):
    course = _course_of(graded, "tamper_kernel_killed")
    nb = json.loads(_graded_notebook(course, "tamper_kernel_killed").read_text())
    killer = [c for c in nb["cells"] if c["cell_type"] == "code" and "_exit(0)" in "".join(c["source"])]
    assert killer and any(o.get("ename") == "KernelDied" for o in killer[0]["outputs"])
    res, _ = graded(cat01)
    later = res["tamper_kernel_killed"]["test_tanh"]  # below the cell that killed the kernel: graded after the restart
    assert later.score == later.max_score, later.message


@pytest.mark.unit01
def test_flags_reach_the_gradebook_as_needing_manual_grading(graded):
    from nbgrader.api import Gradebook

    for student, flagged in [("tamper_helpers_redefined", True), ("reference", False)]:
        course = _course_of(graded, student)
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            nb = gb.find_submission_notebook(cat01.NOTEBOOK, cat01.UNIT, student)
            assert nb.needs_manual_grade == flagged, student
