# segbench: `make run` (quick suite + report) and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch, installed first so that no multi-GB CUDA build is pulled in.
# GPU users: install your CUDA torch into $(VENV) first; it is kept (installed only if missing).
TORCH  ?= torch==2.13.0
SUITE  ?= suites/quick.yaml
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (the suite spends much of its time waiting on the
# subprocesses it starts, so two keep two cores busy); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist worksteal

.PHONY: install run test test-fast gate gate-update lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

run: install
	$(VENV)/bin/segbench run $(SUITE)
	$(VENV)/bin/segbench preview $(SUITE)
	$(VENV)/bin/segbench report

# The gate's ci run is handed to the tests (SEGBENCH_CI_RESULTS), so suites/ci.yaml trains once.
test: install
	@tmp=$$(mktemp -d) && $(VENV)/bin/segbench run suites/ci.yaml --results $$tmp/ci --quiet \
		&& $(VENV)/bin/segbench check --baseline reports/baseline/ci.json --results $$tmp/ci \
		&& SEGBENCH_CI_RESULTS=$$tmp/ci $(PY) -m pytest $(XDIST) $(PYTEST_ARGS); \
		status=$$?; rm -rf $$tmp; exit $$status

# The CI regression gate, end to end through the CLI: a fresh run of suites/ci.yaml against the
# committed baseline (exit 1 on a regression). `make gate-update` accepts new numbers.
gate: install
	@tmp=$$(mktemp -d) && $(VENV)/bin/segbench run suites/ci.yaml --results $$tmp --quiet \
		&& $(VENV)/bin/segbench check --baseline reports/baseline/ci.json --results $$tmp; \
		status=$$?; rm -rf $$tmp; exit $$status

gate-update: install
	@tmp=$$(mktemp -d) && $(VENV)/bin/segbench run suites/ci.yaml --results $$tmp --quiet \
		&& $(VENV)/bin/segbench check --baseline reports/baseline/ci.json --results $$tmp --update; \
		status=$$?; rm -rf $$tmp; exit $$status

test-fast: install
	$(PY) -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check benchmark tests benchmarks

format: install
	$(VENV)/bin/ruff format benchmark tests benchmarks

clean:
	rm -rf results reports/*/ reports/plotly.min.js
