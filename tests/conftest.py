"""Run the suite in course order, so that the first failure points at the earliest unit.

The ``graded`` fixture autogrades, once per session, every simulated submission of
a notebook: the reference, the untouched release, the catalogued wrong and right
answers and the tamper catalogue (test_grading_pipeline.py and
test_grader_soundness.py read the same results).
"""
import pytest

ORDER = ["foundation", "unit01", "unit02", "unit03", "unit04", "unit05", "pipeline", "grader", "exchange", "lab", "browser"]


def pytest_collection_modifyitems(items):
    def rank(item):
        marks = [m.name for m in item.iter_markers() if m.name in ORDER]
        return min((ORDER.index(m) for m in marks), default=len(ORDER))

    items.sort(key=rank)  # stable: file and parameter order kept within a unit


CELL_TIMEOUT = 60  # seconds; the slowest reference cell takes about 10 s here


def all_submissions(cat):
    """Every submission graded for one notebook's catalogue (student id -> Submission)."""
    import catalogue_01_backprop as cat01
    from harness import Submission
    from tamper import tampers

    subs = [Submission("reference"), Submission("blank", blank=True)]
    if cat is cat01:  # unit 01 also grades submissions that break in other ways than a wrong formula
        subs += [
            Submission("infinite_loop", patches={"linear_forward": [("return x @ W.T + b", "while True:\n        pass")]}),
            Submission("raises", patches={"sigmoid": [("e = np.exp(-np.abs(p))", "raise ValueError('not today')")]}),
            Submission("deleted_test_cell", delete_cells=("test_relu", "test_tanh")),
        ]
    subs += [Submission(f"wrong_{x.name}", patches={x.cell: list(x.patches)}) for x in cat.WRONG]
    subs += [Submission(f"right_{r.name}", answers={r.cell: r.source}) for r in getattr(cat, "RIGHT", [])]
    subs += [t.build(cat, f"tamper_{t.name}") for t in tampers(cat)]
    return subs


def grade_notebook(cat, tmp_path_factory):
    """Autograde every submission of one notebook in two scratch courses at once (one per core).

    Returns (results, courses, autograde output): results are student -> test cell -> CellResult.
    """
    from harness import autograde_async, autograde_log, make_course, results, submit

    subs = all_submissions(cat)
    halves = [subs[0::2], subs[1::2]]
    courses = [make_course(tmp_path_factory.mktemp(f"course_{cat.UNIT}_{cat.NOTEBOOK}_{i}"), cat.UNIT)
               for i in range(2)]
    procs = []
    for course, half in zip(courses, halves):
        submit(course, cat.UNIT, cat.NOTEBOOK, half)
        procs.append(autograde_async(course, cat.UNIT, CELL_TIMEOUT))
    logs = []
    for proc, course in zip(procs, courses):
        proc.wait(timeout=3000)
        logs.append(autograde_log(course))
        assert proc.returncode == 0, f"nbgrader autograde failed in {course}:\n{logs[-1][-5000:]}"
    merged = {}
    for course in courses:
        merged.update(results(course, cat.UNIT, cat.NOTEBOOK))
    return merged, courses, "\n".join(logs)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(cat) -> (results, course holding 'reference'): each notebook is graded once, when first asked."""
    cache = {}

    def grade(cat):
        key = (cat.UNIT, cat.NOTEBOOK)
        if key not in cache:
            try:
                cache[key] = grade_notebook(cat, tmp_path_factory)
            except AssertionError as failed:  # graded once: the notebook's other tests fail with the same message
                cache[key] = failed
        if isinstance(cache[key], AssertionError):
            raise cache[key]
        res, courses, _ = cache[key]
        return res, courses[0]
    grade.cache = cache
    return grade
