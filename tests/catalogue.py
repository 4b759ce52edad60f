"""What a unit's catalogue of wrong answers is made of; one ``catalogue_<unit>.py`` per assignment.

A catalogue module defines ``UNIT`` (the folder under solutions/), ``NOTEBOOK``
(the notebook's stem; a unit of several notebooks has a catalogue for each,
``catalogue_<unit>_<notebook>.py``) and ``WRONG``, a list of ``Wrong`` entries. Each entry
patches one answer of the reference solution with a known mistake; graded, it
must lose the points of the test cell it names (``fails``), and where the test
cells diagnose the mistake, the failure message must contain ``says``.
Mistakes that make the student's own code raise (a shape error inside numpy)
have ``says=None``: the traceback is the message.

``RIGHT`` lists different but correct answers (a loop instead of a
vectorised expression, an equivalent formula, another valid order of
operations), at least one per answer cell: each replaces the whole answer
cell and must score that cell's test points in full.

tests/test_grading_pipeline.py finds every catalogue by its file name.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class Wrong:
    name: str
    cell: str                              # answer cell grade_id
    patches: tuple[tuple[str, str], ...]   # (old, new) replacements in the reference answer
    fails: str                             # test cell grade_id that must lose its points
    says: str | None                       # phrase the failure message must contain


@dataclass(frozen=True)
class Right:
    name: str
    cell: str     # answer cell grade_id
    source: str   # the whole replacement answer, a correct alternative to the reference


def w(name, cell, old, new, fails, says, *more) -> Wrong:
    """A ``Wrong`` replacing ``old`` by ``new`` in answer ``cell``; ``more`` are further (old, new) pairs."""
    return Wrong(name, cell, ((old, new), *more), fails, says)


def catalogues() -> list[ModuleType]:
    """Every tests/catalogue_<unit>.py module, in unit order."""
    here = Path(__file__).parent
    return [importlib.import_module(p.stem) for p in sorted(here.glob("catalogue_*.py"))]
