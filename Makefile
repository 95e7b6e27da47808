# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency pinned with its hashes, for the Python it was made with (3.11); `make lock`
# refreshes it from pyproject.toml's ranges.
LOCK := requirements.lock
LOCK_PYTHON := 3.11

.PHONY: run test test-slow lint typecheck unit bench clean install lock

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@if [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$(LOCK_PYTHON)" ]; then \
		echo "installing the locked dependencies ($(LOCK), hashes checked)"; \
		$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK) && \
		$(BIN)/python -m pip install --quiet --no-deps -e . ; \
	else \
		echo "WARNING: $(LOCK) is for Python $(LOCK_PYTHON); installing from pyproject.toml's ranges"; \
		$(BIN)/python -m pip install --quiet -e '.[dev]' ; \
	fi
	@touch $(STAMP)

lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --extra dev --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

install: $(STAMP)

# `make run PORT=8001`; the default is LEDGER_PORT, else 8000 (Settings.port's default)
PORT ?= $(or $(LEDGER_PORT),8000)
run: $(STAMP)
	$(BIN)/ledger serve --demo --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check domain ledger projections api reconciliation entrypoints tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that is a failure here, as any non-zero is.
test: lint typecheck
	$(BIN)/pytest -q

# The performance scenarios (issue 13), about 20 minutes on 2 cores; figures go to $(BENCH_OUT).
# EVENTS: the log scenarios 5 and 6 build (1,000,000 for the README's figures: add ~6 minutes).
# CONTRACTS: hourly contracts of the Monday burst (scenario 4; 100,000 for the README's).
EVENTS ?= 500000
CONTRACTS ?= 20000
BENCH_OUT ?= bench-results
# The 30-minute soak over HTTP (LEDGER_SOAK_SECONDS to change it); not part of `make test`.
test-slow: $(STAMP)
	$(BIN)/pytest -q -s -m slow tests/slow

bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "make bench needs wrk (Debian: apt-get install wrk) and pgbench"; exit 1; }
	@mkdir -p $(BENCH_OUT)
	$(BIN)/python -m benchmarks.yardsticks --json $(BENCH_OUT)/1-yardsticks.json
	$(BIN)/python -m benchmarks.command_mix --json $(BENCH_OUT)/2-command-mix.json
	$(BIN)/python -m benchmarks.http_mix --json $(BENCH_OUT)/3-http-mix.json
	$(BIN)/python -m benchmarks.monday_burst --contracts $(CONTRACTS) --backends postgres \
		--json $(BENCH_OUT)/4-monday-burst.json
	$(BIN)/python -m benchmarks.long_history --json $(BENCH_OUT)/long-history.json
	$(BIN)/python -m benchmarks.audit_chain --events $(EVENTS) --runs 1 \
		--json $(BENCH_OUT)/5-replay-audit.json
	$(BIN)/python -m benchmarks.reads --events $(EVENTS) --no-contract-lists \
		--json $(BENCH_OUT)/6-reads.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
