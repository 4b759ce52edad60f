"""The repository's set-up: packaging, conda environment, nbgrader configuration, README, CI."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from harness import REPO

pytestmark = pytest.mark.foundation


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_name(r): r.split(";")[0].replace(" ", "") for r in reqs}


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    reqs = {}
    for dep in env["dependencies"]:
        for r in (dep["pip"] if isinstance(dep, dict) else [dep]):
            if _name(r) not in ("python", "pip"):
                reqs[_name(r)] = r.replace(" ", "")
    return reqs


def test_environment_yml_lists_the_same_packages_and_versions_as_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_torch_is_pinned_exactly():
    # A range would let pip pull a multi-GB CUDA build on the course's CPU machines.
    assert _pyproject_requirements()["torch"] == "torch==2.13.0"


def test_import_nnlib_does_not_import_torch_or_heavy_packages():
    code = "import sys, nnlib; print(sorted(m for m in ('torch', 'sklearn', 'matplotlib', 'nbgrader') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_nbgrader_config_sets_source_release_timeout_and_restores_cells():
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg: Config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert cfg.CourseDirectory.source_directory == "solutions"
    assert cfg.CourseDirectory.release_directory == "exercises"
    assert 10 <= cfg.Execute.timeout <= 600
    assert cfg.OverwriteCells.add_missing_cells is True
    assert "nnlib.grading.preprocessors.StderrIsNotFailure" in cfg.Autograde.autograde_preprocessors


def test_stderr_in_a_test_cell_does_not_zero_it_but_an_exception_does():
    from nbformat.v4 import new_code_cell, new_output
    from nbgrader.utils import determine_grade

    from nnlib.grading.preprocessors import StderrIsNotFailure

    def graded(outputs):
        cell = new_code_cell("check()", metadata={"nbgrader": {"grade": True, "grade_id": "t", "points": 2,
                                                               "solution": False, "locked": True}})
        cell.outputs = outputs
        cell, _ = StderrIsNotFailure().preprocess_cell(cell, {}, 0)
        return determine_grade(cell)[0]

    assert graded([new_output("stream", name="stderr", text="RuntimeWarning: overflow\n")]) == 2
    assert graded([new_output("error", ename="AssertionError", evalue="wrong", traceback=[])]) == 0


def test_notebooks_are_stored_without_outputs():
    with_outputs = []
    for d in ("lectures", "solutions", "exercises"):
        for p in (REPO / d).rglob("*.ipynb"):
            nb = json.loads(p.read_text())
            if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"]):
                with_outputs.append(str(p.relative_to(REPO)))
    assert not with_outputs, f"strip outputs before committing: {with_outputs}"


def test_readme_opens_with_the_two_commands():
    head = (REPO / "README.md").read_text()[:1500]
    assert "make lab" in head and "make test" in head


def test_ci_runs_the_readme_test_command():
    assert re.search(r"^\s*make test\b", (REPO / ".ci" / "run").read_text(), re.M)
