# Set-up: `make demo` to try Centralita, `make test` to run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint typecheck check flows bench bench-import clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

# Until the web inbox lands, the demo is the collections bot in the terminal, with the
# customers of its flow tests (try document 1.012.345.678, or /help).
demo: $(STAMP)
	$(BIN)/centralita db upgrade
	$(BIN)/centralita validate
	$(BIN)/centralita simulate cobranza --customers flows/tests/cobranza.yaml

test: $(TEST_STAMP)
	$(BIN)/ruff check centralita tests benchmarks
	$(BIN)/ruff format --check centralita tests benchmarks
	$(BIN)/mypy
	$(BIN)/centralita validate
	$(BIN)/centralita test
	$(BIN)/pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check centralita tests benchmarks
	$(BIN)/ruff format --check centralita tests benchmarks

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

flows: $(STAMP)
	$(BIN)/centralita validate
	$(BIN)/centralita test

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.engine

bench-inbound: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.inbound

bench-router: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.router

bench-import: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.import

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
