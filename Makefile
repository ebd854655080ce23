# Set-up: `make demo` to try Centralita, `make test` to run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint typecheck check flows bench bench-import bench-sweep bench-live bench-pdf clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

# The whole loop on SQLite, no Redis, no Twilio account: demo campaigns, customers and people
# (passwords printed), the inbox and the customer simulator at http://127.0.0.1:5000
# (docs/demo.md). DEMO_PORT=5001 make demo if 5000 is taken.
DEMO_PORT ?= 5000
demo: $(STAMP)
	$(BIN)/centralita demo --port $(DEMO_PORT)

test: $(TEST_STAMP)
	$(BIN)/ruff check centralita tests benchmarks
	$(BIN)/ruff format --check centralita tests benchmarks
	$(BIN)/mypy
	$(BIN)/centralita validate
	$(BIN)/centralita test
	@command -v chromium >/dev/null || echo 'chromium is missing: browser tests will not run (apt-get install chromium; .ci/run does)'
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

bench-pdf: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.pdf

bench-sweep: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.sweep

bench-live: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.live_events --redis $${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
