# skystack developer targets. `make demo` and `make test` are the README's Quick start.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: venv install dev lint test demo bench clean

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

# Runs the whole suite against the installed package; pytest's exit code 5 (no test ran) fails.
test: install lint
	@rc=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

demo: install
	$(BIN)/skystack smoke

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist python/*.egg-info .pytest_cache .mypy_cache .ruff_cache
