"""The nbgrader pipeline end to end: release, autograde, feedback, and the students' commands.

Every unit with a catalogue (tests/catalogue_<unit>.py) is graded by real
`nbgrader autograde` runs in scratch courses (two at once, one per core). The
reference answers must score full marks, the untouched release zero, every
catalogued wrong answer must lose its points with a message naming the mistake,
and broken submissions must not stop the batch.
"""
from __future__ import annotations

import filecmp
import subprocess
import sys

import nbformat
import pytest

import catalogue_01_backprop as cat01
from catalogue import catalogues
from harness import REPO, Submission, make_course, run_nbgrader

pytestmark = pytest.mark.pipeline

CATALOGUES = catalogues()
UNIT, NAME = cat01.UNIT, cat01.NOTEBOOK


def unit_mark(cat):
    return getattr(pytest.mark, f"unit{cat.UNIT[:2]}")


def per_unit(cats=CATALOGUES):
    return [pytest.param(c, marks=unit_mark(c), id=f"{c.UNIT}/{c.NOTEBOOK}") for c in cats]


def per_wrong_answer():
    return [pytest.param(c, x, marks=unit_mark(c), id=f"{c.UNIT}/{c.NOTEBOOK}/{x.name}")
            for c in CATALOGUES for x in c.WRONG]


def test_every_assignment_notebook_has_a_catalogue():
    notebooks = sorted(f"{p.parent.name}/{p.stem}" for p in (REPO / "solutions").glob("*/*.ipynb"))
    assert sorted(f"{c.UNIT}/{c.NOTEBOOK}" for c in CATALOGUES) == notebooks


@pytest.mark.parametrize("cat", per_unit({c.UNIT: c for c in CATALOGUES}.values()))
def test_release_matches_a_fresh_generate_assignment(tmp_path, cat):
    course = make_course(tmp_path / "course", cat.UNIT)
    fresh = course / "exercises" / cat.UNIT
    committed = REPO / "exercises" / cat.UNIT
    names = sorted(p.name for p in committed.iterdir())
    assert names == sorted(p.name for p in fresh.iterdir()), "exercises/ holds other files than a fresh release"
    _, mismatch, errors = filecmp.cmpfiles(committed, fresh, names, shallow=False)
    assert not mismatch and not errors, \
        f"exercises/{cat.UNIT} is out of date with solutions/ ({mismatch}): run `make release`"


@pytest.mark.parametrize("cat", per_unit())
def test_every_test_cell_has_points_and_hidden_tests(cat):
    nb = nbformat.read(REPO / "solutions" / cat.UNIT / f"{cat.NOTEBOOK}.ipynb", as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(tests) >= 5
    for cell in tests:
        gid = cell.metadata["nbgrader"]["grade_id"]
        assert cell.metadata["nbgrader"]["points"] > 0, gid
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{gid} has no hidden tests"


@pytest.mark.parametrize("cat", per_unit())
def test_reference_solution_scores_full_marks(graded, cat):
    res, _ = graded(cat)
    lost = {cell: (r.score, r.max_score, r.message) for cell, r in res["reference"].items() if r.score != r.max_score}
    assert not lost, f"the reference solution lost points: {lost}"


@pytest.mark.parametrize("cat", per_unit())
def test_untouched_release_scores_zero(graded, cat):
    res, _ = graded(cat)
    scored = {cell: r.score for cell, r in res["blank"].items() if r.score}
    assert not scored, f"the untouched student version scored points: {scored}"


@pytest.mark.parametrize("cat, wrong", per_wrong_answer())
def test_wrong_answer_loses_its_points_with_a_message_naming_it(graded, cat, wrong):
    res, _ = graded(cat)
    r = res[f"wrong_{wrong.name}"][wrong.fails]
    assert r.score == 0 < r.max_score, f"{wrong.name} kept {r.score}/{r.max_score} points in {wrong.fails}"
    if wrong.says:
        assert wrong.says in r.message, f"{wrong.name}: message does not name the mistake: {r.message!r}"


@pytest.mark.parametrize("cat", per_unit())
def test_at_least_three_wrong_answers_per_graded_answer_cell(cat):
    answers = {c.metadata["nbgrader"]["grade_id"]
               for c in nbformat.read(REPO / "solutions" / cat.UNIT / f"{cat.NOTEBOOK}.ipynb", as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    counts = {a: sum(x.cell == a for x in cat.WRONG) for a in answers}
    assert all(n >= 3 for n in counts.values()), counts


@pytest.mark.unit01
def test_infinite_loop_times_out_and_only_that_answer_loses(graded):
    res, _ = graded(cat01)
    r = res["infinite_loop"]
    assert r["test_linear_forward"].score == 0
    assert r["test_sigmoid"].score == r["test_sigmoid"].max_score      # grading went on after the timeout
    assert r["test_numerical_gradient"].score == r["test_numerical_gradient"].max_score


@pytest.mark.unit01
def test_raising_answer_loses_only_its_points(graded):
    res, _ = graded(cat01)
    r = res["raises"]
    assert r["test_sigmoid"].score == 0 and "not today" in r["test_sigmoid"].message
    assert r["test_relu"].score == r["test_relu"].max_score


@pytest.mark.unit01
def test_deleted_test_cells_are_restored_and_graded(graded):
    res, _ = graded(cat01)
    r = res["deleted_test_cell"]
    assert r["test_relu"].max_score == 2 and r["test_relu"].score == 2
    assert r["test_tanh"].score == r["test_tanh"].max_score


@pytest.mark.unit01
def test_feedback_html_is_generated(graded):
    _, course = graded(cat01)
    run_nbgrader(["generate_feedback", UNIT, "--student", "reference"], cwd=course)
    html = (course / "feedback" / "reference" / UNIT / f"{NAME}.html").read_text()
    assert "Score: 21.0 / 21.0" in html or "21.0 / 21.0" in html


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "nnlib.grading.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_validate_exits_nonzero_on_the_untouched_release_and_zero_on_the_reference(tmp_path):
    blank = _cli("validate", str(REPO / "exercises" / UNIT / f"{NAME}.ipynb"))
    assert blank.returncode == 1, blank.stdout + blank.stderr
    assert "test cell(s) failed" in blank.stdout
    sub = tmp_path / UNIT / f"{NAME}.ipynb"
    sub.parent.mkdir()
    nbformat.write(Submission("reference").notebook(UNIT, NAME), sub)
    ok = _cli("validate", str(sub))
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_self_check_shows_scores_and_messages_but_no_hidden_tests(tmp_path):
    sub = tmp_path / UNIT / f"{NAME}.ipynb"
    sub.parent.mkdir()
    nbformat.write(Submission("tanh", patches={"tanh": [("(1.0 - q ** 2)", "(1.0 - q)")]}).notebook(UNIT, NAME), sub)
    before = sub.read_bytes()
    proc = _cli("check", str(sub))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "test_tanh" in proc.stdout and "0 / 1" in proc.stdout and "square is missing" in proc.stdout
    assert "total 20 / 21" in proc.stdout
    assert "BEGIN HIDDEN TESTS" not in proc.stdout and "_rng" not in proc.stdout
    assert "np.ndindex" not in proc.stdout, "the check printed solution code"
    assert sub.read_bytes() == before, "check modified the student's notebook"
