"""Every notebook in lectures/ and solutions/ runs top to bottom, offline, in a fresh kernel.

A lecture's claims are asserts in its cells, so executing it checks them.
"""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from harness import REPO

NOTEBOOKS = sorted(p.relative_to(REPO) for d in ("lectures", "solutions") for p in (REPO / d).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)

# Lectures are numbered in reading order; these are the first lecture of each unit.
FIRST_LECTURE_OF_UNIT = {1: 1, 2: 3, 3: 4, 4: 5, 5: 6}


def unit_of(path) -> int:
    """The unit a notebook belongs to: solutions/NN_name/... is unit NN; lectures/NN_... by reading order."""
    if path.parts[0] == "solutions":
        return int(path.parts[1][:2])
    number = int(path.name[:2])
    return max(u for u, first in FIRST_LECTURE_OF_UNIT.items() if first <= number)


def with_unit_mark(path):
    return pytest.param(path, marks=getattr(pytest.mark, f"unit{unit_of(path):02d}"), id=str(path))


@pytest.mark.parametrize("path", [with_unit_mark(p) for p in NOTEBOOKS])
def test_notebook_executes_without_error(path):
    nb = nbformat.read(REPO / path, as_version=4)
    # Each cell gets 10 minutes: a slow machine must not fail a correct notebook,
    # while a hung cell still ends the test.
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str((REPO / path).parent)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # JupyterLab's Validate button (nbgrader's own validator) fails a test cell that wrote to
    # stderr, even when the test passed: a reference solution's test cells must stay silent there.
    noisy = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
             if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c.cell_type == "code"
             and any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in c.get("outputs", []))]
    assert not noisy, f"test cells {noisy} write to stderr: the Lab's Validate would call them failed"


def test_there_are_notebooks_to_run():
    assert any(str(p).startswith("lectures") for p in NOTEBOOKS)
    assert any(str(p).startswith("solutions") for p in NOTEBOOKS)
