"""The catalogue of cheating and breaking submissions, graded for every assignment notebook.

Each ``Tamper`` builds a submission for a notebook from its misconception
catalogue: the reference answers, with one known wrong answer (the *target*:
the first catalogued mistake in the notebook's second answer cell) made to look
right by the attack. Graded, every tamper must:

- leave the batch running (nbgrader exits 0 and the submission has grades);
- lose the target test's points: the wrong answer gets what it deserves;
- keep the points of the tests above the target answer (no collateral damage);
- when ``flagged``, mark the notebook for manual grading, with a message.

``handled_by`` names the defence that is expected to act (see
nnlib/grading/preprocessors.py): ``scan`` reads the source before grading,
``sentinel`` acts in the kernel, ``restart`` reruns a notebook whose kernel
died, ``nbgrader`` restores test cells from the gradebook, ``cap`` limits
output size. Several attacks hide from the scan (``print.__self__`` is the
``builtins`` module, ``getattr`` with built-up strings) so that the sentinel is
tested on its own.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import nbformat

from harness import REPO, Submission, grade_id

ANYTHING_GOES = "lambda *args, **kwargs: True"
SILENT = "lambda *args, **kwargs: None"
HIDDEN_BUILTINS = "print.__self__"  # the builtins module, reached without naming it


@dataclass(frozen=True)
class Tamper:
    name: str
    what: str                                   # the attack, in words
    handled_by: str
    build: Callable[[ModuleType, str], Submission]
    flagged: bool = True
    cell: str | None = None   # the answer cell cheated in (None: the target's)
    fails: str | None = None  # the test that must lose its points (None: the target's)


@functools.lru_cache(maxsize=None)
def target(cat):
    """The catalogued wrong answer the attacks try to pass off as right."""
    answers = [grade_id(c) for c in nbformat.read(_source(cat), as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")]
    cell = answers[1] if len(answers) > 1 else answers[0]
    return next(w for w in cat.WRONG if w.cell == cell)


def _source(cat):
    return REPO / "solutions" / cat.UNIT / f"{cat.NOTEBOOK}.ipynb"


def _wrong(cat, student: str, *, prepend: str = "", added: str | None = None, edit=None, delete=()) -> Submission:
    wrong = target(cat)
    return Submission(student, patches={wrong.cell: list(wrong.patches)},
                      prepend={wrong.cell: prepend} if prepend else {},
                      added=((wrong.cell, added),) if added else (), edit=edit, delete_cells=tuple(delete))


def _edit_test(cat, change):
    fails = target(cat).fails

    def edit(nb):
        for cell in nb.cells:
            if grade_id(cell) == fails:
                change(cell)
    return edit


def _demote(cell):
    cell.metadata["nbgrader"].update(grade=False, locked=False, solution=False)
    cell.source = "pass"


PATCH_LIBRARIES = f"""import numpy
import torch
numpy.allclose = {ANYTHING_GOES}
numpy.testing.assert_allclose = {SILENT}
torch.allclose = {ANYTHING_GOES}
torch.testing.assert_close = {SILENT}
"""
PATCH_THROUGH_ALIASES = f"""_put = getattr({HIDDEN_BUILTINS}, "set" + "attr")
_load = getattr({HIDDEN_BUILTINS}, "__imp" + "ort__")
for _module, _name in [("numpy", "allclose"), ("nnlib.grading", "expect_close"), ("nnlib.grading", "expect")]:
    _put(_load(_module, fromlist=["x"]), _name, {ANYTHING_GOES})
"""
REDEFINE_HELPERS = f"""def expect_close(*args, **kwargs):
    return None


def expect(*args, **kwargs):
    return None
"""
INPUT_TRANSFORMER = """get_ipython().input_transformers_cleanup.append(
    lambda lines: [] if any("expect" in line or "assert" in line for line in lines) else lines)
"""
HIDDEN_INPUT_TRANSFORMER = f"""_shell = getattr({HIDDEN_BUILTINS}, "get_" + "ipython")()
_shell.input_transformers_cleanup.append(lambda lines: [] if any(("exp" + "ect") in l for l in lines) else lines)
_shell.ast_transformers.append(type("Blank", (), {{"visit": lambda self, tree: type(tree)(body=[], type_ignores=[])}})())
"""
CUSTOM_EXCEPTION_HANDLER = """get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
"""
HIDDEN_EXCEPTION_HANDLER = f"""_shell = getattr({HIDDEN_BUILTINS}, "get_" + "ipython")()
_shell.set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
_shell.showtraceback = lambda *args, **kwargs: None
"""
PATCHING_THREAD = f"""_load = getattr({HIDDEN_BUILTINS}, "__imp" + "ort__")
_put, _threads, _time = getattr({HIDDEN_BUILTINS}, "set" + "attr"), _load("thread" + "ing"), _load("time")
_grading, _numpy = _load("nnlib.grading", fromlist=["x"]), _load("numpy")


def _keep_patching():
    for _ in range(200_000):
        _put(_numpy, "allclose", {ANYTHING_GOES})
        _time.sleep(0.0005)


_threads.Thread(target=_keep_patching, daemon=True).start()
"""
KILL_KERNEL = f"""getattr({HIDDEN_BUILTINS}, "__imp" + "ort__")("o" + "s")._exit(0)
"""
READ_THE_SOLUTIONS = f"""_load = getattr({HIDDEN_BUILTINS}, "__imp" + "ort__")
_os, _json = _load("o" + "s"), _load("json")
_folder = _os.path.join(_os.getcwd(), "..", "..", "..", "sol" + "utions")
for _unit in _os.listdir(_folder):
    for _nb in _os.listdir(_os.path.join(_folder, _unit)):
        _cells = _json.load(open(_os.path.join(_folder, _unit, _nb)))["cells"]
"""
FRAME_PEEK = f"""_frames = getattr({HIDDEN_BUILTINS}, "__imp" + "ort__")("sy" + "s")
"""
HUGE_OUTPUT = """print("x" * 20_000_000)
"""

TAMPERS = [
    Tamper("libraries_patched", "replaces numpy's and torch's comparison functions with ones that always pass",
           "scan, sentinel", lambda cat, s: _wrong(cat, s, prepend=PATCH_LIBRARIES)),
    Tamper("libraries_patched_unseen", "replaces numpy.allclose and nnlib's grading helpers through setattr "
           "reached without naming it", "sentinel", lambda cat, s: _wrong(cat, s, prepend=PATCH_THROUGH_ALIASES)),
    Tamper("helpers_redefined", "redefines the grading helpers expect and expect_close as no-ops",
           "scan, sentinel", lambda cat, s: _wrong(cat, s, prepend=REDEFINE_HELPERS)),
    Tamper("input_transformer", "installs an IPython input transformer that empties every cell with a test",
           "scan, sentinel", lambda cat, s: _wrong(cat, s, prepend=INPUT_TRANSFORMER)),
    Tamper("input_transformer_unseen", "installs an input transformer and an AST transformer that empty the tests, "
           "reaching the shell without naming it", "sentinel",
           lambda cat, s: _wrong(cat, s, prepend=HIDDEN_INPUT_TRANSFORMER)),
    Tamper("exception_handler", "installs a custom exception handler that swallows every failure",
           "scan, sentinel", lambda cat, s: _wrong(cat, s, prepend=CUSTOM_EXCEPTION_HANDLER)),
    Tamper("exception_handler_unseen", "swallows failures with a custom exception handler and a silenced "
           "traceback, reaching the shell without naming it", "sentinel",
           lambda cat, s: _wrong(cat, s, prepend=HIDDEN_EXCEPTION_HANDLER)),
    Tamper("patching_thread", "starts a thread that keeps replacing numpy.allclose while the tests run",
           "sentinel", lambda cat, s: _wrong(cat, s, prepend=PATCHING_THREAD)),
    Tamper("kernel_killed", "ends the kernel with os._exit in a cell it added", "restart",
           lambda cat, s: _wrong(cat, s, added=KILL_KERNEL)),
    Tamper("solutions_read", "opens the instructor's source notebooks from the course directory",
           "sentinel", lambda cat, s: _wrong(cat, s, prepend=READ_THE_SOLUTIONS)),
    Tamper("test_cell_edited", "replaces the test cell's code with `pass`", "nbgrader",
           lambda cat, s: _wrong(cat, s, edit=_edit_test(cat, lambda c: setattr(c, "source", "pass"))),
           flagged=False),
    Tamper("test_cell_deleted", "deletes the test cell", "nbgrader",
           lambda cat, s: _wrong(cat, s, delete=(target(cat).fails,)), flagged=False),
    Tamper("test_cell_demoted", "turns the test cell into an ordinary cell (metadata) that does nothing",
           "nbgrader", lambda cat, s: _wrong(cat, s, edit=_edit_test(cat, _demote)), flagged=False),
    Tamper("huge_output", "prints one line of 20 million characters", "cap",
           lambda cat, s: _wrong(cat, s, added=HUGE_OUTPUT), flagged=False),
]

def _cheat(name: str, what: str, handled_by: str, cell: str, fails: str, source: str) -> Tamper:
    """A notebook-specific cheat: answer ``cell`` replaced by ``source``, which must lose ``fails``."""
    return Tamper(name, what, handled_by, lambda cat, s: Submission(s, answers={cell: source}), cell=cell, fails=fails)


# Cheats that need to know a notebook: right results obtained without writing the answer.
SPECIFIC = {
    "01_backprop/backprop": [
        _cheat("reference_implementation", "answers sigmoid with nnlib's own nnlib.sigmoid", "scan",
               "sigmoid", "test_sigmoid",
               "import nnlib\n\ndef sigmoid(p):\n    return nnlib.sigmoid(p)\n\n\n"
               "def sigmoid_backward(grad_out, q):\n    return grad_out * q * (1.0 - q)\n"),
        _cheat("oracle_used", "answers relu with torch, the tests' oracle, in a numpy exercise", "scan",
               "relu", "test_relu",
               "def relu(p):\n    return torch.relu(torch.from_numpy(p)).numpy()\n\n\n"
               "def relu_backward(grad_out, p):\n    return grad_out * (p > 0)\n"),
        _cheat("frame_peek", "reads torch's answer out of the test's own frame (sys._getframe(1).f_locals)",
               "sentinel", "linear_backward", "test_linear_backward",
               FRAME_PEEK + "\n\ndef linear_backward(grad_out, x, W):\n    seen = _frames._getframe(1).f_locals\n"
               "    return seen['gx'], seen['gW'], seen['gb']\n"),
    ],
    "03_cnn/cnn": [
        _cheat("reference_implementation", "answers im2col with nnlib's own nnlib.im2col", "scan",
               "im2col", "test_im2col",
               "def im2col(x, kernel_size, stride=1, padding=0):\n"
               "    return nnlib.im2col(x, kernel_size, stride=stride, padding=padding)\n"),
    ],
}


def tampers(cat) -> list[Tamper]:
    return TAMPERS + SPECIFIC.get(f"{cat.UNIT}/{cat.NOTEBOOK}", [])


def attacked(cat, tamper: Tamper) -> tuple[str, str]:
    """(answer cell, test cell): where the tamper cheats and the test it must not pass."""
    return tamper.cell or target(cat).cell, tamper.fails or target(cat).fails


def tests_above(cat, cell: str) -> list[str]:
    """Test cells above answer ``cell``: a tamper there must not cost them their points."""
    cells = nbformat.read(_source(cat), as_version=4).cells
    stop = [grade_id(c) for c in cells].index(cell)
    return [grade_id(c) for c in cells[:stop]
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
