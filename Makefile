# Inflow: every target creates .venv from the lock when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export INFLOW_HOME ?= $(CURDIR)/.inflow


.PHONY: setup run test test-slow lint ui bench bench-daily lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/inflow run

# CI's suite: every test but the few marked slow, which would take it past 20 minutes.
test: setup
	$(BIN)/pytest -m "not slow"

# The slow tests (README "Tests"): the Spark build and Spark's number macros need Java.
test-slow: setup
	$(BIN)/pytest -m slow

# ruff (lint + format) on the Python, sqlfluff (dbt templater, dbt_project/.sqlfluff) on the SQL,
# one process per core (0): on 2 cores 65 s instead of 98 s.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && INFLOW_WAREHOUSE="$$(mktemp -d)/lint.duckdb" ../$(BIN)/sqlfluff lint models tests --processes 0

ui: setup
	$(BIN)/inflow ui

bench: setup
	$(BIN)/python -m bench.run

# issue 15's daily scenario: full build as of D, one day's drop, the daily refresh, checked
# against a full rebuild as of D+1 (BENCH_SIZES, default 100000,1000000).
bench-daily: setup
	$(BIN)/python -m bench.daily

lock:
	$(PYTHON) -m venv /tmp/inflow-lock-venv
	/tmp/inflow-lock-venv/bin/pip install --quiet -e '.[test]'
	/tmp/inflow-lock-venv/bin/pip freeze --exclude-editable | grep -v '^inflow' > requirements.lock

clean:
	rm -rf $(VENV) $(INFLOW_HOME) dbt_project/target
