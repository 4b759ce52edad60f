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


@pytest.mark.unit01
@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_notebook_executes_without_error(path):
    nb = nbformat.read(REPO / path, as_version=4)
    # Each cell gets 10 minutes: a slow machine must not fail a correct notebook,
    # while a hung cell still ends the test.
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str((REPO / path).parent)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_there_are_notebooks_to_run():
    assert any(str(p).startswith("lectures") for p in NOTEBOOKS)
    assert any(str(p).startswith("solutions") for p in NOTEBOOKS)
