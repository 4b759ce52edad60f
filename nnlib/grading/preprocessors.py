"""nbgrader preprocessors the course adds to autograding (see nbgrader_config.py).

Imported by nbgrader only; nothing else in nnlib imports nbgrader.
"""
from nbgrader.preprocessors import NbGraderPreprocessor


class StderrIsNotFailure(NbGraderPreprocessor):
    """Relabel stderr output as stdout so that only exceptions fail a test cell.

    nbgrader scores 0 any test cell that wrote to stderr, so a harmless
    ``RuntimeWarning`` or a progress bar in a correct answer would lose its
    points. The course's test cells signal failure by raising, which nbgrader
    records as an ``error`` output and still scores 0. The text stays visible
    to the student, under stdout.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        return cell, resources
