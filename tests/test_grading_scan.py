"""The grader's scan of student cells (nnlib/grading/scan.py), without running anything.

Fast checks that complement the graded catalogues: the scan finds nothing in
any reference answer or catalogued right answer (no false alarms on honest
work), and names what each kind of tampering does, at the right line.
"""
from __future__ import annotations

import nbformat
import pytest

from catalogue import catalogues
from harness import REPO, reference_answers
from nnlib.grading import scan
from nnlib.grading.preprocessors import cell_kind

pytestmark = pytest.mark.grader

SETUP = ("import numpy as np\nimport torch\nfrom nnlib.data import digits\n"
         "from nnlib.grading import expect, expect_close, torch_vjp\n")
ALIASES = scan.imported_names(SETUP)
PROTECTED = scan.protected_by(SETUP, is_test=False)
REFERENCE = "def relu(p):\n    return np.maximum(p, 0.0)\n"


def context(cat, cell_id):
    """(aliases, protected names) as the grader sees them above answer ``cell_id``."""
    aliases, protected = {}, set()
    for cell in nbformat.read(REPO / "solutions" / cat.UNIT / f"{cat.NOTEBOOK}.ipynb", as_version=4).cells:
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("nbgrader", {}).get("grade_id") == cell_id:
            return aliases, protected
        kind = cell_kind(cell)
        if kind in ("given", "test"):
            protected |= scan.protected_by(cell.source, kind == "test")
        aliases.update(scan.imported_names(cell.source))
    raise KeyError(cell_id)


def honest_answers():
    for cat in catalogues():
        refs = reference_answers(cat.UNIT, cat.NOTEBOOK)
        for cell_id, source in refs.items():
            yield pytest.param(cat, cell_id, source, refs[cell_id], id=f"{cat.UNIT}/{cat.NOTEBOOK}/{cell_id}")
        for right in getattr(cat, "RIGHT", []):
            yield pytest.param(cat, right.cell, right.source, refs[right.cell],
                               id=f"{cat.UNIT}/{cat.NOTEBOOK}/right_{right.name}")


@pytest.mark.parametrize("cat, cell_id, source, reference", list(honest_answers()))
def test_honest_answers_raise_no_finding(cat, cell_id, source, reference):
    aliases, protected = context(cat, cell_id)
    assert scan.scan_cell(source, aliases, protected, reference) == []


@pytest.mark.parametrize("source, kind, says, line", [
    ("import nnlib\ndef relu(p):\n    return nnlib.ReLU().forward(p)\n", "reference", "nnlib.ReLU", 3),
    ("from nnlib.layers import ReLU\n", "reference", "nnlib.layers.ReLU", 1),
    ("def relu(p):\n    return torch.relu(torch.from_numpy(p)).numpy()\n", "reference", "torch.relu", 2),
    ("np.allclose = lambda *a, **k: True\n", "tamper", "changes numpy.allclose", 1),
    ("import numpy.testing\nnumpy.testing.assert_allclose = print\n", "tamper", "numpy.testing.assert_allclose", 2),
    ("setattr(np, 'allclose', print)\n", "tamper", "setattr on numpy", 1),
    ("np.__dict__['allclose'] = print\n", "tamper", "writes into numpy.__dict__", 1),
    ("def expect_close(*a, **k):\n    pass\n", "tamper", "redefines expect_close", 1),
    ("expect = print\n", "tamper", "assigns to expect", 1),
    ("from numpy import testing as np\n", "tamper", "rebinds np", 1),
    ("get_ipython().input_transformers_cleanup.append(len)\n", "tamper", "get_ipython", 1),
    ("import IPython\n", "tamper", "IPython", 1),
    ("import os\nos._exit(0)\n", "tamper", "os._exit", 2),
    ("import sys\nx = sys._getframe(1)\n", "tamper", "sys._getframe", 2),
    ("import inspect\n", "tamper", "inspect", 1),
    ("exec('x = 1')\n", "tamper", "exec", 1),
    ("__builtins__\n", "tamper", "__builtins__", 1),
    ("x = open('../../../solutions/01_backprop/backprop.ipynb')\n", "tamper", "solutions", 1),
    ("globals()['np'] = None\n", "tamper", "globals", 1),
])
def test_scan_names_the_finding(source, kind, says, line):
    findings = scan.scan_cell(source, ALIASES, PROTECTED, REFERENCE)
    assert [(f.kind, f.line) for f in findings if says in f.message] == [(kind, line)], findings


@pytest.mark.parametrize("source", [
    "import numpy as np\n" + REFERENCE,                      # importing numpy again under the same name
    "def relu(p):\n    out = p.copy()\n    out[np.arange(3)] = 0\n    return out\n",  # subscript with np.* inside
    "def relu(p):\n    \"\"\"See the solutions. Any path.\"\"\"\n    return np.maximum(p, 0)\n",
    "data_copy = digits\n",                                  # reading a protected name is fine
    "class Net:\n    def __init__(self):\n        setattr(self, 'w', 1)\n",
])
def test_scan_leaves_honest_code_alone(source):
    assert scan.scan_cell(source, ALIASES, PROTECTED, REFERENCE) == []


def test_nnlib_use_is_allowed_where_the_reference_uses_it():
    reference = "def train(m):\n    return nnlib.fit(m)\n"
    aliases = {**ALIASES, "nnlib": "nnlib"}
    assert scan.scan_cell("def train(m):\n    return nnlib.fit(m, epochs=2)\n", aliases, set(), reference) == []
    found = scan.scan_cell("def train(m):\n    return nnlib.Adam(m)\n", aliases, set(), reference)
    assert [f.kind for f in found] == ["reference"]


def test_a_syntax_error_is_left_to_the_run():
    assert scan.scan_cell("def f(:\n", ALIASES, PROTECTED, REFERENCE) == []


def test_torch_is_flagged_only_where_the_answer_is_numpy():
    tensor_reference = "def pairs(ids, T):\n    return ids[:-1].unfold(0, T, T), ids[1:].unfold(0, T, T)\n"
    tensor_answer = "def pairs(ids, T):\n    return torch.stack([ids[:T]]), torch.stack([ids[1:T + 1]])\n"
    assert scan.scan_cell(tensor_answer, ALIASES, set(), tensor_reference) == []
    assert [f.kind for f in scan.scan_cell(tensor_answer, ALIASES, set(), REFERENCE)] == ["reference"]
