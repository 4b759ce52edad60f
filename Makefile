# The course's entry points. `make lab` and `make test` create the virtual
# environment (.venv) themselves when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# One BLAS / torch thread per process: on a shared two-core machine, threads
# fighting each other made runs 10-100x slower.
THREADS := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
UNITS  := $(notdir $(wildcard solutions/[0-9]*))
A      ?= $(firstword $(UNITS))
NB     ?=
LAB_ARGS ?=
# Jupyter refuses to run as root unless told (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
# nbgrader runs helper programs (alembic) from PATH: put the environment's first.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup lab test release validate check grade feedback export bench soundness clean-grading

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[course,test]'
	cd / && $(abspath $(BIN))/python -c 'import nnlib'  # notebooks' kernels import it from their own folder
	touch $(STAMP)

setup: $(STAMP)          ## create .venv with everything the course and its tests need

lab: setup               ## open the course in JupyterLab
	$(BIN)/jupyter lab --notebook-dir=. $(ROOT_FLAG) $(LAB_ARGS)

test: setup              ## the whole test suite
	$(THREADS) $(BIN)/python -m pytest $(PYTEST_ARGS)

release: setup           ## regenerate the student versions exercises/ from solutions/
	$(BIN)/python -m nnlib.grading.cli guard-release
	for a in $(UNITS); do $(BIN)/nbgrader generate_assignment $$a --force || exit 1; done

validate: setup          ## run a notebook's visible tests: make validate NB=exercises/01_backprop/backprop.ipynb
	$(THREADS) $(BIN)/python -m nnlib.grading.cli validate $(NB)

check: setup             ## grade your notebook with the hidden tests: make check NB=exercises/01_backprop/backprop.ipynb
	$(THREADS) $(BIN)/python -m nnlib.grading.cli check $(NB)

grade: setup             ## instructor: autograde every submission of unit A and write feedback
	$(THREADS) $(BIN)/nbgrader autograde $(A)
	$(BIN)/nbgrader generate_feedback $(A)

export: setup            ## instructor: write grades.csv
	$(BIN)/nbgrader export

bench: setup             ## speed ratios against torch in the same process (benchmarks/RESULTS.md records them)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(THREADS) $(BIN)/python $$f || exit 1; done

soundness: setup        ## grade every catalogue of wrong, right and tampering answers; print the report
	$(THREADS) $(BIN)/python tests/soundness.py

clean-grading:           ## instructor: remove autograded/ and feedback/ (not submissions, not the gradebook)
	rm -rf autograded feedback
