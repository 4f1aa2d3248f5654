# One entry point for people and CI. Environments live under .venv/<name>; every target that needs
# one depends on its stamp file, so `make test` on a fresh clone builds what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
COMPUTE_PY := $(VENV)/compute/bin/python
ORCH_PY := $(VENV)/orchestrator/bin/python
CHROMA_PY := $(VENV)/chroma/bin/python
LINT := $(VENV)/lint/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup setup-redis setup-console setup-chromium setup-compute setup-orchestrator setup-chroma \
        setup-lint lint format openapi console-screenshots test test-console test-compute test-orchestrator test-deploy test-docs test-shape test-e2e docs run compute bench bench-compute \
        bench-queue chaos clean

help:
	@echo "make setup          redis-server and Node.js if missing, every environment (.venv/compute, .venv/orchestrator, .venv/chroma), the console"
	@echo "make test           run the whole test suite against real Redis, Chroma and models"
	@echo "make test-docs      docs/configuration.md agrees with the settings classes; every relative link and anchor in the docs resolves"
	@echo "make test-shape     the code's shape: functions of 60 lines at most, short docstrings, no import cycle, no route importing a route"
	@echo "make docs           render docs/configuration.md's tables from the two settings classes"
	@echo "make lint           ruff (lint, format check), import-linter (package boundaries), the console's tsc, prettier and eslint"
	@echo "make openapi        docs/openapi.json from the app, and the console's API types (src/openapi.d.ts) from it"
	@echo "make format         ruff format and the safe ruff fixes, in place"
	@echo "make test-e2e       end-to-end tests: the whole stack, two compute replicas, ../shared/corpus, the console in chromium"
	@echo "make run            the whole stack, supervised: Redis, Chroma, compute, orchestrator API (dev mode), console at /console"
	@echo "make compute        run the compute service in the foreground (COMPUTE_PORT, default 8090)"
	@echo "make console-screenshots  copy the console's screenshots of the last make test-e2e into docs/console"
	@echo "make bench          /embed per backend, then the whole stack: a 2,000-page PDF, ingest ratios, SciFact quality per mode and per backend, search latency, cache, lexical index, memory (BENCH_ARGS=--quick)"
	@echo "make bench-compute  embedding and parsing benchmark (prints medians)"
	@echo "make bench-queue    job-queue throughput and latency benchmark"
	@echo "make chaos          seeded load and faults (kill -9, SIGSTOP) for CHAOS_S s (300), CHAOS_SEED; bench/results/chaos.json"

setup: setup-redis setup-compute setup-orchestrator setup-chroma setup-console

# Debian's redis-server when none is on PATH (apt-get; sudo when not root).
setup-redis:
	@bash deploy/ensure-redis.sh

# The operator console (/console): its npm dependencies from the lock file, type-checked and built by Vite
# into services/orchestrator/console/dist, which the orchestrator serves.
CONSOLE := services/orchestrator/console
CONSOLE_SOURCES := $(shell find $(CONSOLE)/src -type f 2>/dev/null) $(CONSOLE)/index.html $(CONSOLE)/vite.config.ts \
                   $(CONSOLE)/tsconfig.json $(CONSOLE)/eslint.config.js $(CONSOLE)/package.json \
                   $(CONSOLE)/package-lock.json docs/openapi.json
setup-console: $(CONSOLE)/dist/index.html
$(CONSOLE)/dist/index.html: $(CONSOLE_SOURCES)
	@bash deploy/ensure-node.sh  # Debian's nodejs and npm when missing; Node 18 or newer
	cd $(CONSOLE) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check-api-types && npm run build

# The README's screenshots: copied from the last run of the console's browser tests (make test-e2e).
console-screenshots:
	@for screen in collections documents search operations; do \
	  cp test-results/console/$$screen.png docs/console/$$screen.png || exit 1; done
	@echo "docs/console/*.png updated from test-results/console/"

# Debian's chromium for the console's browser tests (Playwright drives it; no browser download).
setup-chromium:
	@bash deploy/ensure-chromium.sh

setup-compute: $(VENV)/compute/.stamp
setup-orchestrator: $(VENV)/orchestrator/.stamp
setup-chroma: $(VENV)/chroma/.stamp
setup-lint: $(VENV)/lint/.stamp

# torch first and alone: pinned to the CPU build, so nothing later pulls a CUDA build in.
$(VENV)/compute/.stamp: services/compute/requirements.txt services/compute/requirements-test.txt services/compute/pyproject.toml shared/pyproject.toml
	$(PYTHON) -m venv $(VENV)/compute
	$(VENV)/compute/bin/pip install -q --upgrade pip
	$(VENV)/compute/bin/pip install -q torch==2.13.0
	$(VENV)/compute/bin/pip install -q -r services/compute/requirements-test.txt
	$(VENV)/compute/bin/pip install -q --no-deps -e shared -e services/compute
	$(COMPUTE_PY) -m compute.embedding.onnx_export  # int8 model for CPUs without bf16, into COMPUTE_MODEL_CACHE_DIR
	touch $@

$(VENV)/orchestrator/.stamp: services/orchestrator/requirements.txt services/orchestrator/requirements-test.txt services/orchestrator/pyproject.toml shared/pyproject.toml
	$(PYTHON) -m venv $(VENV)/orchestrator
	$(VENV)/orchestrator/bin/pip install -q --upgrade pip
	$(VENV)/orchestrator/bin/pip install -q -r services/orchestrator/requirements-test.txt
	$(VENV)/orchestrator/bin/pip install -q --no-deps -e shared -e services/orchestrator
	touch $@

# The Chroma server runs from its own environment, never beside chromadb-client.
$(VENV)/chroma/.stamp: deploy/chroma-requirements.txt
	$(PYTHON) -m venv $(VENV)/chroma
	$(VENV)/chroma/bin/pip install -q --upgrade pip
	$(VENV)/chroma/bin/pip install -q -r deploy/chroma-requirements.txt
	touch $@

$(VENV)/lint/.stamp: requirements-lint.txt
	$(PYTHON) -m venv $(VENV)/lint
	$(VENV)/lint/bin/pip install -q -r requirements-lint.txt
	touch $@

# Where import-linter finds the packages whose imports it reads (their source; no venv needed).
LINT_PATH := services/orchestrator:services/compute:shared

lint: setup-lint setup-console
	$(LINT)/ruff check .
	$(LINT)/ruff format --check .
	PYTHONPATH=$(LINT_PATH) $(LINT)/lint-imports
	cd $(CONSOLE) && npm run lint  # the console: tsc (strict), prettier --check and eslint

format: setup-lint setup-console
	$(LINT)/ruff check --fix .
	$(LINT)/ruff format .
	cd $(CONSOLE) && npm run format

# The API's OpenAPI document, from the app factory with fixed settings (the same on every machine), and the
# console's types generated from it (src/openapi.d.ts, committed: the console's Docker stage builds without
# docs/). tests/orchestrator/api/test_openapi.py and the console's lint and build fail when either is stale.
openapi: setup-orchestrator
	$(ORCH_PY) -m orchestrator.api.openapi_document docs/openapi.json
	@bash deploy/ensure-node.sh
	cd $(CONSOLE) && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent api-types

test: test-console test-compute test-orchestrator test-deploy test-docs test-shape test-e2e

# The console's own logic (event-stream parsing, highlight offsets, progress bars) under Vitest; the
# console itself is driven in Chromium by tests/e2e/test_4_console.py.
test-console: setup-console
	cd $(CONSOLE) && npm test

test-compute: setup-compute
	$(COMPUTE_PY) -m pytest tests/compute -q -p no:cacheprovider

# The orchestrator's tests start real Chroma and compute processes from their own environments.
test-orchestrator: setup-redis setup-orchestrator setup-chroma setup-compute
	$(ORCH_PY) -m pytest tests/orchestrator -q -p no:cacheprovider

# The deployment files' structure: manifests against the Kubernetes schemas, compose, Dockerfiles.
test-deploy: setup-orchestrator
	$(ORCH_PY) -m pytest tests/deploy -q -p no:cacheprovider

# The documentation: configuration.md's tables against the settings classes (make docs renders them),
# and every relative link and #anchor in README.md, docs/*.md and bench/README.md.
test-docs: setup-orchestrator
	$(ORCH_PY) -m pytest tests/docs -q -p no:cacheprovider

# The code's shape (tests/shape, standard library only): what a review would otherwise have to re-check.
test-shape: setup-orchestrator
	$(ORCH_PY) -m pytest tests/shape -q -p no:cacheprovider

# docs/configuration.md's variable tables, rendered from the orchestrator's and compute's settings classes
# (the prose around them is kept); the orchestrator's environment has all it needs.
docs: setup-orchestrator
	$(ORCH_PY) -m deploy.config_docs

# The whole stack as `make run` starts it (two compute replicas), on free ports: ingest, search, delete,
# invariants, a replica killed mid-ingest, 60 s of chaos (bench/chaos). E2E_CORPUS_PER_FORMAT=N ingests only
# N corpus files per format.
test-e2e: setup-redis setup-orchestrator setup-chroma setup-compute setup-console setup-chromium
	$(ORCH_PY) -m pytest tests/e2e -q -p no:cacheprovider -s

# Redis (6380), Chroma (8000), compute (8090), the orchestrator API with workers (8080), data in ./data;
# ports and paths from RUN_* / COMPUTE_* / ORCH_* variables (deploy/run_stack.py). Ctrl-C stops it all.
run: setup
	$(ORCH_PY) -m deploy.run_stack

compute: setup-compute
	$(COMPUTE_PY) -m compute

# /embed per backend beside in-process torch fp32 (compute's environment: it loads torch), then the whole
# stack on free ports in a temporary data dir; BENCH_ARGS=--quick for small sizes.
bench: setup
	$(COMPUTE_PY) -m bench.bench_compute --no-parse --texts=$(if $(findstring --quick,$(BENCH_ARGS)),200,600)
	$(ORCH_PY) -m bench.stack $(BENCH_ARGS)

bench-compute: setup-compute
	$(COMPUTE_PY) -m bench.bench_compute $(BENCH_ARGS)

bench-queue: setup-orchestrator
	$(ORCH_PY) -m bench.bench_queue

# The stack (make run's, two compute replicas, two worker processes) under a seeded load while a seeded
# scheduler kill -9s compute, a worker, Chroma and Redis and SIGSTOPs a worker; then every check must be 0.
# CHAOS_SEED empty: a random seed, printed and recorded. Writes bench/results/chaos.json.
CHAOS_S ?= 300
CHAOS_SEED ?=
chaos: setup
	$(ORCH_PY) -m bench.chaos --duration-s $(CHAOS_S) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED)) --out bench/results/chaos.json

clean:
	rm -rf $(VENV) $(CONSOLE)/node_modules $(CONSOLE)/dist
