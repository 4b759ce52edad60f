"""Run the suite in course order, so that the first failure points at the earliest unit."""
ORDER = ["foundation", "unit01", "unit02", "unit03", "unit04", "unit05", "pipeline", "grader", "exchange", "lab", "browser"]


def pytest_collection_modifyitems(items):
    def rank(item):
        marks = [m.name for m in item.iter_markers() if m.name in ORDER]
        return min((ORDER.index(m) for m in marks), default=len(ORDER))

    items.sort(key=rank)  # stable: file and parameter order kept within a unit
