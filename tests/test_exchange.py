"""A class through nbgrader's exchange on one machine, and a student's work never lost.

Two students fetch unit 01, one answers it correctly and one forgets a square in
the tanh derivative; the instructor collects, autogrades, and returns feedback; each
student gets back their own feedback and nobody else's. Fetching again
after editing, and `make release` while exercises/ holds work, leave the
work as it was.
"""
from __future__ import annotations

import json
import re
import shutil
import sys

import nbformat
import pytest

from exchange import Instructor, Student, clean_env, copy_course, nbgrader, run
from harness import Submission

pytestmark = pytest.mark.exchange

UNIT, NAME = "01_backprop", "backprop"
WRONG_TANH = {"tanh": [("(1.0 - q ** 2)", "(1.0 - q)")]}  # a missing square


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """An instructor's course with unit 01 released to a fresh exchange."""
    root = tmp_path_factory.mktemp("class")
    exchange = root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    instructor = Instructor(copy_course(root / "course"), exchange)
    instructor.nbgrader("generate_assignment", UNIT, "--force")
    instructor.nbgrader("release_assignment", UNIT)
    return instructor


def _scores(course, student) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(NAME, UNIT, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades}


def test_two_students_round_trip_grades_each_and_returns_each_their_own_feedback(released, tmp_path):
    instructor = released
    students = {"alice": Submission("alice"), "bob": Submission("bob", patches=WRONG_TANH)}
    people = {sid: Student(sid, tmp_path / sid, instructor.exchange) for sid in students}
    for sid, person in people.items():
        person.fetch(UNIT)
        fetched = person.work / UNIT / f"{NAME}.ipynb"
        assert fetched.is_file(), f"{sid}: fetch_assignment did not create {fetched}"
        nbformat.write(students[sid].notebook(UNIT, NAME), fetched)
        person.submit(UNIT)

    instructor.nbgrader("collect", UNIT)
    assert sorted(p.name for p in (instructor.course / "submitted").iterdir()) == ["alice", "bob"]
    instructor.nbgrader("autograde", UNIT)
    instructor.nbgrader("generate_feedback", UNIT)
    instructor.nbgrader("release_feedback", UNIT)

    alice, bob = _scores(instructor.course, "alice"), _scores(instructor.course, "bob")
    top = sum(m for _, m in alice.values())
    assert top > 0 and all(s == m for s, m in alice.values()), f"the correct submission lost points: {alice}"
    assert bob["test_tanh"][0] == 0, f"the wrong tanh derivative kept its points: {bob}"
    assert {k: v for k, v in bob.items() if k != "test_tanh"} == {k: v for k, v in alice.items() if k != "test_tanh"}
    bob_total = top - bob["test_tanh"][1]

    for sid, total in (("alice", top), ("bob", bob_total)):
        person = people[sid]
        files = person.fetch_feedback(UNIT)
        assert len(files) == 1, f"{sid} should receive exactly one feedback file, got {files}"
        html = files[0].read_text()
        mine = (instructor.course / "feedback" / sid / UNIT / f"{NAME}.html").read_text()
        other = "bob" if sid == "alice" else "alice"
        theirs = (instructor.course / "feedback" / other / UNIT / f"{NAME}.html").read_text()
        assert html == mine and html != theirs, f"{sid} did not receive their own feedback"
        assert f"{total:g}.0 / {top:g}.0" in html or f"{total:g} / {top:g}" in html, \
            f"{sid}'s feedback does not show {total:g} / {top:g}"
    # bob's feedback names the mistake in the tanh test
    assert "square is missing" in people["bob"].fetch_feedback(UNIT)[0].read_text().lower()


def test_fetching_again_never_overwrites_an_edited_notebook(released, tmp_path):
    carol = Student("carol", tmp_path / "carol", released.exchange)
    carol.fetch(UNIT)
    notebook = carol.work / UNIT / f"{NAME}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("carol_was_here = 1"))
    nbformat.write(nb, notebook)
    edited = notebook.read_bytes()
    (carol.work / UNIT / "scratch.py").write_text("# mine\n")

    again = carol.fetch(UNIT, check=False)
    assert again.returncode != 0 and "already have a copy" in again.stdout + again.stderr, again
    assert notebook.read_bytes() == edited, "fetch_assignment changed an edited notebook"

    # --replace restores only missing files
    carol.fetch(UNIT, "--replace")
    assert notebook.read_bytes() == edited, "fetch_assignment --replace changed an edited notebook"
    assert (carol.work / UNIT / "scratch.py").read_text() == "# mine\n"
    notebook.unlink()
    carol.fetch(UNIT, "--replace")
    assert "carol_was_here" not in notebook.read_text(), "--replace should bring back the released notebook"


# `make release` while exercises/ holds work ------------------------------------------------------------


def _answer(path, text="x = 42  # my answer"):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = text
    nbformat.write(nb, path)


def _git_course(root):
    course = copy_course(root)
    env = clean_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    run(["git", "init", "-q"], course, env)
    run(["git", "add", "Makefile", "nbgrader_config.py", "pyproject.toml", "solutions", "exercises"], course, env)
    run(["git", "commit", "-q", "-m", "course"], course, env)
    return course


def _make_release(course):
    return run(["make", "--no-print-directory", "release"], course, clean_env(), check=False)


@pytest.mark.parametrize("case", ["edited answer", "added cell", "new notebook", "other file", "no git"])
def test_make_release_refuses_while_exercises_holds_work(tmp_path, case):
    course = copy_course(tmp_path / "course") if case == "no git" else _git_course(tmp_path / "course")
    target = course / "exercises" / UNIT / f"{NAME}.ipynb"
    if case in ("edited answer", "no git"):
        _answer(target)
    elif case == "added cell":
        nb = nbformat.read(target, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
        nbformat.write(nb, target)
    elif case == "new notebook":
        target = target.with_name("backprop-my-copy.ipynb")
        shutil.copy(course / "exercises" / UNIT / f"{NAME}.ipynb", target)
        _answer(target)
    else:
        target = target.with_name("notes.md")
        target.write_text("my notes\n")
    before = target.read_bytes()
    proc = _make_release(course)
    assert proc.returncode != 0, f"`make release` ran although {target.name} holds work ({case}):\n{proc.stdout}"
    assert target.name in proc.stderr and "Not regenerating" in proc.stderr, proc.stderr
    assert target.read_bytes() == before, f"{target} changed"


def test_guard_lets_an_untouched_or_merely_executed_release_through(tmp_path):
    course = _git_course(tmp_path / "course")
    target = course / "exercises" / UNIT / f"{NAME}.ipynb"
    nb = json.loads(target.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran\n"}]
            cell["execution_count"] = 1
    target.write_text(json.dumps(nb))
    (course / "exercises" / UNIT / ".ipynb_checkpoints").mkdir()
    (course / "exercises" / UNIT / ".ipynb_checkpoints" / f"{NAME}-checkpoint.ipynb").write_text("{}")
    proc = run([sys.executable, "-m", "nnlib.grading.cli", "guard-release"], course,
               clean_env(), check=False)
    assert proc.returncode == 0, f"guard-release refused an unedited release:\n{proc.stdout}\n{proc.stderr}"
    # after an uncommitted change to solutions/ and a release, the new release is not someone's work either
    src = course / "solutions" / UNIT / f"{NAME}.ipynb"
    nb = nbformat.read(src, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("A new introduction."))
    nbformat.write(nb, src)
    nbgrader(["generate_assignment", UNIT, "--force"], course, clean_env())
    assert re.search("A new introduction", target.read_text())
    proc = run([sys.executable, "-m", "nnlib.grading.cli", "guard-release"], course,
               clean_env(), check=False)
    assert proc.returncode == 0, f"guard-release refused a fresh, uncommitted release:\n{proc.stderr}"
