"""Command line for students and self-study learners.

    python -m nnlib.grading.cli validate NOTEBOOK   run the visible tests; exit 1 if any fails
    python -m nnlib.grading.cli check NOTEBOOK      grade with the hidden tests, as an instructor would
    python -m nnlib.grading.cli guard-release       exit 1 if `make release` would lose work in exercises/

``check`` grades a copy of the notebook in a scratch nbgrader course built
from ``solutions/``, and prints each test's score and failure message. It
never prints test or solution source, and never writes to the notebook given.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STUDENT = "self-check"


def _unit_and_name(notebook: Path) -> tuple[str, str]:
    """('01_backprop', 'backprop') for .../01_backprop/backprop.ipynb, checked against solutions/."""
    unit, name = notebook.parent.name, notebook.stem
    if not (REPO / "solutions" / unit / f"{name}.ipynb").is_file():
        units = sorted(p.parent.name + "/" + p.name for p in (REPO / "solutions").glob("*/*.ipynb"))
        raise SystemExit(f"{notebook}: not an assignment notebook. Expected <unit>/<name>.ipynb matching one of "
                         f"{units} (the file's folder must keep the unit's name)")
    return unit, name


def _error_text(cell: dict) -> str:
    """The failure messages of a graded test cell (the grader's integrity notes included), one per line."""
    messages = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            if out.get("ename") == "NotImplementedError":
                messages.append("not answered yet: the answer cell still raises NotImplementedError")
            else:
                messages.append(ANSI.sub("", f"{out.get('ename')}: {out.get('evalue')}").strip())
    return "\n      ".join(messages)


def validate(notebook: Path) -> int:
    """Execute the notebook (a copy, in memory) and report each test cell; 1 if any fails."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, Execute
    from nbgrader.validator import Validator
    from traitlets import List

    from .preprocessors import StderrIsNotFailure

    class CourseValidator(Validator):
        preprocessors = List([CheckCellMetadata, ClearOutput, Execute, StderrIsNotFailure])

    results = CourseValidator().validate(str(notebook))
    if results.get("type_changed") or results.get("changed"):
        print(f"{notebook}: some read-only cells were changed; restore them (nbgrader restores them at "
              "grading time, so changes to tests do not count).")
        return 1
    failed = results.get("failed", [])
    for cell in failed:
        first = cell["source"].splitlines()[0] if cell["source"] else ""
        message = ANSI.sub("", cell["raw_error"]).strip().splitlines()
        print(f"FAILED  {first[:70]}\n        {message[-1] if message else ''}")
    print(f"{notebook}: {'all visible tests passed' if not failed else f'{len(failed)} test cell(s) failed'}")
    return 1 if failed else 0


def nbgrader_env() -> dict:
    """The environment for nbgrader subprocesses: this Python's bin first on PATH (nbgrader runs `alembic`)."""
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


def run_nbgrader(args: list[str], cwd: Path, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``cwd``; RuntimeError with the end of its output when it fails."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"nbgrader {' '.join(args)} exited {proc.returncode}:\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def scratch_course(root: Path, unit: str) -> Path:
    """A course in ``root`` with the unit's source from solutions/ and a fresh gradebook recording its tests."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / unit, root / "solutions" / unit)
    run_nbgrader(["generate_assignment", unit, "--force"], cwd=root)
    return root


def check(notebook: Path) -> int:
    """Autograde a copy with the hidden tests; print per-test scores and messages; 1 unless full marks."""
    unit, name = _unit_and_name(notebook)
    with tempfile.TemporaryDirectory(prefix="nn-course-check-") as tmp:
        course = scratch_course(Path(tmp), unit)
        submitted = course / "submitted" / STUDENT / unit
        submitted.mkdir(parents=True)
        shutil.copy(notebook, submitted / f"{name}.ipynb")
        run_nbgrader(["autograde", unit, "--force"], cwd=course)
        graded = json.loads((course / "autograded" / STUDENT / unit / f"{name}.ipynb").read_text())
        scores = _scores(course, unit, name)
    total = sum(s for s, _ in scores.values())
    top = sum(m for _, m in scores.values())
    print(f"{unit}/{name}: graded with the hidden tests\n")
    for cell in graded["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in scores and cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            score, most = scores[gid]
            line = f"  {gid:<32} {score:g} / {most:g}"
            err = _error_text(cell)
            print(line + (f"\n      {err}" if err else ""))
    print(f"\n  total {total:g} / {top:g}")
    return 0 if total == top else 1


def _scores(course: Path, unit: str, name: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(name, unit, STUDENT)
        return {g.name: (g.score, g.max_score) for g in nb.grades}


def guard_release(course: Path) -> int:
    """Refuse (exit 1) when regenerating exercises/ would lose an edited or new file there (see guard.py)."""
    from .guard import guard_release as guard

    return guard(course)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlib.grading.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in ("validate", "check"):
        p = sub.add_parser(cmd)
        p.add_argument("notebook", type=Path)
    sub.add_parser("guard-release").add_argument("course", type=Path, nargs="?", default=Path.cwd())
    args = parser.parse_args(argv)
    if args.command == "guard-release":
        return guard_release(args.course)
    if args.command in ("validate", "check") and not args.notebook.is_file():
        parser.error(f"{args.notebook}: no such notebook")
    if args.command == "validate":
        return validate(args.notebook)
    try:
        return check(args.notebook)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
