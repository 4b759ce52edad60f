"""The README's instructor commands, run as written, in a copy of the course.

Between release and collect a student fetches the assignment through the
exchange, answers it and submits; at the end the student fetches the feedback.
The only change to the README's commands is the exchange directory, a temporary one.
"""
from __future__ import annotations

import csv
import re
import subprocess

import nbformat
import pytest

from exchange import Student, clean_env, copy_course
from harness import REPO, Submission

pytestmark = pytest.mark.pipeline

UNIT, NAME = "01_backprop", "backprop"


def _instructor_block() -> tuple[str, str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- instructor-commands -->\s*```bash\n(.*?)```", text, re.S).group(1)
    before, after = block.split("# ... students", 1)
    return before, after.split("\n", 1)[1]


def _bash(script: str, cwd, env) -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"commands failed:\n{script}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_readme_instructor_round_trip_grades_a_submission_and_returns_feedback(tmp_path):
    course, exchange = copy_course(tmp_path / "course"), tmp_path / "exchange"
    student = Student("student", tmp_path / "student", exchange)
    env = clean_env()

    first, second = _instructor_block()
    first = first.replace("/srv/nbgrader/exchange", str(exchange))
    assert "release_assignment" in first and "collect" in second and "export" in second
    _bash(first, course, env)

    student.fetch(UNIT)
    fetched = student.work / UNIT / f"{NAME}.ipynb"
    assert fetched.is_file()
    nbformat.write(Submission("student").notebook(UNIT, NAME), fetched)
    student.submit(UNIT)

    _bash("source .venv/bin/activate\n" + f"export NBGRADER_EXCHANGE={exchange}\n" + second, course, env)

    feedback = student.fetch_feedback(UNIT)
    assert len(feedback) == 1 and "21.0 / 21.0" in feedback[0].read_text()
    rows = {r["assignment"]: (float(r["score"]), float(r["max_score"]))
            for r in csv.DictReader((course / "grades.csv").open())}
    # `make release` records every unit in the gradebook; the student submitted only this one.
    units = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert sorted(rows) == units
    assert rows[UNIT] == (21.0, 21.0)
    assert all(score == 0.0 and top > 0 for a, (score, top) in rows.items() if a != UNIT)
