"""`make release` must never destroy someone's work in exercises/.

``nbgrader generate_assignment UNIT --force`` deletes the whole folder
exercises/UNIT/ before writing the new student version: every notebook in it,
edited or new, and every other file. So before `make release` regenerates a
unit, each file in that folder must be something the release itself put
there, unchanged:

- a notebook whose cells (type and source; outputs do not count) equal the
  committed version (``git show HEAD:...``) or a fresh generation from the
  current solutions/ (the case of a copy of the course without git, or of a
  release regenerated but not committed yet);
- a non-notebook file equal to its source in solutions/UNIT/ or to the
  committed version.

Anything else is reported and the release refused. Jupyter's
``.ipynb_checkpoints`` and Python caches are not work and are ignored.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DISPOSABLE = {".ipynb_checkpoints", "__pycache__"}


def _cells(text: str | bytes) -> list[tuple[str, str]] | None:
    """The notebook's (cell type, source) list; None when it is not a readable notebook."""
    try:
        nb = json.loads(text)
        return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
                for c in nb["cells"]]
    except (ValueError, KeyError, TypeError):
        return None


def _committed(course: Path, rel: str) -> bytes | None:
    try:
        proc = subprocess.run(["git", "show", f"HEAD:./{rel}"], cwd=course, capture_output=True)
    except OSError:  # no git on this machine
        return None
    return proc.stdout if proc.returncode == 0 else None


def _fresh_cells(course: Path, unit: str, name: str) -> list[tuple[str, str]] | None:
    """The cells `nbgrader generate_assignment` would write for solutions/UNIT/NAME, computed in this process.

    Only these preprocessors of the generate step change cell sources; the
    others lock cells, clear outputs and record checksums.
    """
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions, IncludeHeaderFooter
    from traitlets.config.loader import PyFileConfigLoader

    source = course / "solutions" / unit / name
    if not source.is_file():
        return None
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    nb, resources = nbformat.read(source, as_version=4), {}
    for step in (IncludeHeaderFooter, ClearSolutions, ClearHiddenTests, ClearMarkScheme):
        nb, resources = step(config=config).preprocess(nb, resources)
    return [(c.cell_type, c.source) for c in nb.cells]


def work_at_risk(course: Path) -> list[str]:
    """Files under exercises/ that regenerating the release would delete or overwrite, each with the reason."""
    course = Path(course).resolve()
    solutions, exercises = course / "solutions", course / "exercises"
    found = []
    for unit_dir in sorted(p for p in exercises.glob("*") if p.is_dir()):
        unit = unit_dir.name
        if not (solutions / unit).is_dir():
            continue  # `make release` regenerates only the units in solutions/
        for path in sorted(unit_dir.rglob("*")):
            inside = path.relative_to(unit_dir)
            if not path.is_file() or DISPOSABLE & set(inside.parts):
                continue
            rel = path.relative_to(course).as_posix()
            source = solutions / unit / inside
            if not source.is_file():
                found.append(f"{rel}  (not part of the release: a new file or someone's copy)")
                continue
            mine = path.read_bytes()
            if path.suffix == ".ipynb":
                cells = _cells(mine)
                committed = _committed(course, rel)
                same = cells is not None and committed is not None and _cells(committed) == cells
                if not same and cells is not None:
                    same = _fresh_cells(course, unit, inside.as_posix()) == cells
                if not same:
                    found.append(f"{rel}  (edited: its cells differ from the released version)")
            elif mine not in (source.read_bytes(), _committed(course, rel)):
                found.append(f"{rel}  (edited: differs from solutions/{unit}/{inside.as_posix()})")
    return found


def guard_release(course: Path) -> int:
    """Exit status for `make release`: 1, with the list of files, when any work would be lost."""
    at_risk = work_at_risk(course)
    if at_risk:
        print("Not regenerating exercises/: `make release` replaces each unit's folder there, and these files "
              "hold work that would be lost:\n  " + "\n  ".join(at_risk)
              + "\nMove them out of exercises/ first (or, if they are yours to discard, `git checkout exercises/` "
                "and delete the new ones).", file=sys.stderr)
        return 1
    return 0
