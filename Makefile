# The two commands: `make run` and `make test`. Everything installs into .venv.
# With DATABASE_URL and CELERY_BROKER_URL / REDIS_URL set, both use PostgreSQL and Redis.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
APP_CODE := oms inventory orders fulfilment returns subscriptions channels webhooks reports
HOST ?= 127.0.0.1
PORT ?= 8000
# The web server of `make run` restarts itself when a Python file changes only with RELOAD=1
# (the reloader costs a second Django start-up, about 4 s of a restart on two cores).
RELOAD ?=
RUNSERVER_FLAGS ?= $(if $(RELOAD),,--noreload)

# Development defaults; a production deployment sets its own environment and never uses make.
export DEBUG ?= 1

# The PostgreSQL driver (the extra `postgres`) is installed when DATABASE_URL names PostgreSQL;
# runtime packages are held to the versions of requirements.lock (the image installs exactly
# those).
comma := ,
POSTGRES_EXTRA := $(if $(filter postgres% postgresql%,$(DATABASE_URL)),$(comma)postgres)
LOCK := requirements.lock

.PHONY: run test install install-dev install-bench lock lint typecheck pytest pytest-integration bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) install --quiet --no-compile -c $(LOCK) -e '.[run$(POSTGRES_EXTRA)]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) install --quiet -c $(LOCK) -e '.[dev]'
	@touch $@ $(VENV)/.installed

# The benchmarks need no test tools, only matplotlib for their chart (the extra `bench`).
$(VENV)/.installed-bench: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) install --quiet -c $(LOCK) -e '.[bench,run$(POSTGRES_EXTRA)]'
	@touch $@ $(VENV)/.installed

# requirements.lock: every runtime package (with the extras postgres and otel) at one version.
# Run after changing the dependencies in pyproject.toml (pip-tools, a dev dependency).
lock: $(VENV)/.installed-dev
	$(BIN)/pip-compile --quiet --strip-extras --extra postgres --extra otel \
	  --no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-bench: $(VENV)/.installed-bench

run: $(VENV)/.installed
	$(BIN)/python manage.py dev_prepare
	@echo
	@echo "  Start     http://$(HOST):$(PORT)/"
	@echo "  Admin     http://$(HOST):$(PORT)/admin/"
	@echo "  API docs  http://$(HOST):$(PORT)/api/docs/"
	@echo "  Health    http://$(HOST):$(PORT)/healthz"
	@echo "  (Ctrl-C stops the web server, the Celery worker and Celery beat)"
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" OMS_HOST=$(HOST) OMS_PORT=$(PORT) RUNSERVER_FLAGS="$(RUNSERVER_FLAGS)" \
	  OMS_PUBLIC_URL="$${OMS_PUBLIC_URL:-http://$(HOST):$(PORT)}" $(BIN)/honcho -f Procfile.dev start

test: $(VENV)/.installed-dev lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy $(APP_CODE)

# The suite runs on PYTEST_WORKERS processes; the worker integration tests (real Celery
# workers on the configured broker, faults included) run after it, one at a time, so that no
# two of them consume from one broker.
PYTEST_WORKERS ?= 2

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not integration" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory pytest-integration

pytest-integration: $(VENV)/.installed-dev
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

# Every bench/[!_]*.py, one after the other; each appends its measures to BENCH_RESULTS, from
# which bench/_report.py writes bench/results/latest.md (the table) and latest.png (the chart).
# PostgreSQL is the reference: DATABASE_URL=postgres://... make bench (about 45 min on 2 busy
# cores, most of it the two 10,000-order runs of issue 16: the channel sync and re-routing).
BENCH_RESULTS ?= bench/results/latest.jsonl

bench: $(VENV)/.installed-bench
	@mkdir -p $(dir $(BENCH_RESULTS))
	@rm -f $(BENCH_RESULTS)
	@for script in bench/[!_]*.py; do \
	  echo "== $$script"; BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python $$script || exit 1; \
	done
	$(BIN)/python bench/_report.py $(BENCH_RESULTS)

clean:
	rm -rf $(VENV) var/*.sqlite3* var/broker var/celerybeat-schedule* .pytest_cache .mypy_cache .ruff_cache
