# skystack developer targets. `make demo` and `make test` are the README's Quick start.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: venv install dev lint services test demo bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "skystack needs Python >= 3.11; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

# A regular (non-editable) install with the test extras: what users get from `pip install .`.
install: $(BIN)/python
	$(BIN)/python -m pip install --quiet ".[test]"

# An editable install for development.
dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,postgres,dask]"

lint: install
	$(BIN)/ruff check python tests benchmarks bin setup.py
	$(BIN)/ruff format --check python tests benchmarks bin setup.py
	$(BIN)/mypy

# Registry tests also run on PostgreSQL when CI=true (127.0.0.1:5432, database "test"): start the
# machine's cluster if it is installed but not running.
services:
	@if [ "$$CI" = "true" ] && command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		echo "starting PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n 1) main start || true; \
	fi

# Runs the whole suite against the installed package; pytest's exit code 5 (no test ran) fails.
test: install lint services
	@rc=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The main job, until the demo pipeline exists: simulate the demo survey into an embedded SQLite
# repository (raws, calibrations, reference catalogue, skymap, visits), show what it holds, then
# run the smoke job (a Task checked against simulated truth).
DEMO_DIR ?= demo_work
demo: install
	$(BIN)/skystack simulate $(DEMO_DIR)/sim --preset demo --repo $(DEMO_DIR)/repo
	$(BIN)/butler query-datasets $(DEMO_DIR)/repo raw -c SimCam/defaults --where "exposure.observation_type = 'science' AND detector = 0"
	$(BIN)/butler query-dimension-records $(DEMO_DIR)/repo visit
	$(BIN)/skystack smoke

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist python/*.egg-info .pytest_cache .mypy_cache .ruff_cache
