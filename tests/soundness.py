"""The grader's soundness report: per notebook, what the catalogues expect and what grading did.

    python tests/soundness.py        (or `make soundness`) grades every catalogue and prints

    notebook                   wrong answers caught   right answers accepted   tamper attempts handled
    01_backprop/backprop       38 / 38                9 / 9                    17 / 17
    ...

and exits 1 unless every count is complete. The test suite computes the same
report from the grading it does anyway (tests/test_grader_soundness.py) and
asserts it is complete; the verdict functions here are what both use.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nbformat  # noqa: E402

from harness import REPO, grade_id  # noqa: E402
from tamper import attacked, tampers, tests_above  # noqa: E402


def wrong_verdict(res, wrong) -> str | None:
    """None when the wrong answer lost its test's points with a message naming the mistake; else why not."""
    r = res[f"wrong_{wrong.name}"][wrong.fails]
    if r.score != 0:
        return f"kept {r.score}/{r.max_score} points in {wrong.fails}"
    if wrong.says and wrong.says not in r.message:
        return f"the message does not name the mistake ({wrong.says!r}): {r.message[:200]!r}"
    return None


def right_verdict(res, right) -> str | None:
    """None when the alternative answer scored every test's points without a flag; else why not."""
    lost = {c: (r.score, r.max_score, r.message[:200]) for c, r in res[f"right_{right.name}"].items()
            if r.score != r.max_score or r.flagged}
    return f"lost points or was flagged: {lost}" if lost else None


def tamper_verdict(cat, res, tamper) -> str | None:
    """None when the tamper got what it deserves (see tamper.py); else why not."""
    graded = res.get(f"tamper_{tamper.name}")
    if not graded:
        return "no grades: the submission was not graded"
    cell, fails = attacked(cat, tamper)
    problems = []
    if graded[fails].score != 0:
        problems.append(f"kept {graded[fails].score}/{graded[fails].max_score} points in {fails}")
    lost = [t for t in tests_above(cat, cell) if graded[t].score != graded[t].max_score]
    if lost:
        problems.append(f"tests above the attack lost points: {lost}")
    if tamper.flagged and not any(r.flagged for r in graded.values()):
        problems.append("not flagged for manual grading")
    return "; ".join(problems) or None


def answer_cells(cat) -> list[str]:
    nb = nbformat.read(REPO / "solutions" / cat.UNIT / f"{cat.NOTEBOOK}.ipynb", as_version=4)
    return [grade_id(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]


@dataclass
class Row:
    notebook: str
    wrong: tuple[int, int]
    right: tuple[int, int]
    tamper: tuple[int, int]
    uncovered: list[str] = field(default_factory=list)  # answer cells without a right alternative
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems and not self.uncovered and all(a == b for a, b in (self.wrong, self.right, self.tamper))


def row(cat, res) -> Row:
    problems = []
    counts = []
    for kind, entries, verdict in [
        ("wrong", cat.WRONG, lambda x: wrong_verdict(res, x)),
        ("right", getattr(cat, "RIGHT", []), lambda x: right_verdict(res, x)),
        ("tamper", tampers(cat), lambda x: tamper_verdict(cat, res, x)),
    ]:
        bad = [(x.name, why) for x in entries if (why := verdict(x))]
        problems += [f"{kind} {name}: {why}" for name, why in bad]
        counts.append((len(entries) - len(bad), len(entries)))
    covered = {r.cell for r in getattr(cat, "RIGHT", [])}
    return Row(f"{cat.UNIT}/{cat.NOTEBOOK}", *counts, uncovered=[c for c in answer_cells(cat) if c not in covered],
               problems=problems)


def table(rows: list[Row]) -> str:
    head = f"{'notebook':<26} {'wrong answers caught':>22} {'right answers accepted':>24} {'tamper attempts handled':>25}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.notebook:<26} {'%d / %d' % r.wrong:>22} {'%d / %d' % r.right:>24} {'%d / %d' % r.tamper:>25}")
    total = [tuple(map(sum, zip(*(getattr(r, k) for r in rows)))) for k in ("wrong", "right", "tamper")]
    lines += ["-" * len(head), f"{'all':<26} {'%d / %d' % total[0]:>22} {'%d / %d' % total[1]:>24} "
              f"{'%d / %d' % total[2]:>25}"]
    for r in rows:
        lines += [f"  {r.notebook}: {p}" for p in r.problems]
        if r.uncovered:
            lines.append(f"  {r.notebook}: answer cells with no right alternative: {r.uncovered}")
    return "\n".join(lines)


class _Scratch:
    """Enough of pytest's tmp_path_factory for grading outside pytest."""

    def __init__(self, root: Path):
        self.root, self.n = root, 0

    def mktemp(self, name: str) -> Path:
        self.n += 1
        path = self.root / f"{name}{self.n}"
        path.mkdir()
        return path


def main() -> int:
    from catalogue import catalogues
    from conftest import grade_notebook

    rows = []
    with tempfile.TemporaryDirectory(prefix="nn-course-soundness-") as tmp:
        scratch = _Scratch(Path(tmp))
        for cat in catalogues():
            print(f"grading {cat.UNIT}/{cat.NOTEBOOK} ...", flush=True)
            res, _, _ = grade_notebook(cat, scratch)
            rows.append(row(cat, res))
    print(table(rows))
    return 0 if all(r.complete for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
