# Gridwatch developer commands. `make up` runs the platform locally, `make test` runs every test.
SHELL := /bin/bash
# uv from PATH, else where `make setup` (pip --user) puts it: a fresh shell does not have ~/.local/bin on PATH.
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := $(UV) run --frozen
# Scripts and tests that recipes run call `uv` by name too: put its folder on their PATH.
export PATH := $(if $(findstring /,$(UV)),$(patsubst %/,%,$(dir $(UV))):)$(PATH)
export UV_LINK_MODE ?= copy
# Trust the system's certificate store (as apt, pip and curl do), so a proxy's CA installed there works.
export UV_SYSTEM_CERTS ?= 1
export NODE_EXTRA_CA_CERTS ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)

.PHONY: k8s help setup up up-detached down status test test-unit test-integration test-e2e lint format bench bench-smoke clean dashboards

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

setup: ## Install system packages (Debian) and the Python environment
	UV=$(UV) bash .ci/install.sh

up: setup ## Run Kafka, Redis, PostgreSQL, Prometheus and every workload locally (supervised); Ctrl-C stops everything
	$(PY) gridwatch local up

up-detached: setup ## Like `make up`, in the background (log in .gridwatch/up.log); `make status`, stop with `make down`
	$(PY) gridwatch local up --detach

down: ## Stop a background `make up-detached`
	$(PY) gridwatch local down

status: ## What a running `make up` runs: servers, workloads and their restarts
	$(PY) gridwatch local status

lint: ## ruff and mypy --strict
	$(PY) ruff check workloads operator tests charts
	$(PY) ruff format --check workloads operator tests charts
	$(PY) mypy workloads/src operator/src tests charts/energy-site/files/helm-test.py

format: ## Apply ruff's fixes and formatting
	$(PY) ruff check --fix workloads operator tests charts
	$(PY) ruff format workloads operator tests charts

test-unit: ## Unit tests (no servers)
	$(PY) pytest tests/unit

test-integration: ## Integration tests against real Kafka and Redis
	$(PY) pytest tests/integration

# pytest-xdist workers: every e2e test is one unit of work (one worker owns the clusters); unit and integration
# modules, each whole, fill the workers around it (tests/conftest.py).
TEST_WORKERS ?= 2

test: setup lint k8s images ## Everything CI runs: lint, unit, integration and e2e tests
	$(MAKE) --no-print-directory ui-test
	$(PY) pytest -n $(TEST_WORKERS) tests

.PHONY: test-autoscale
test-autoscale: setup k8s images ## Only the real-node autoscaling test (part of `make test`; about 9 min), its figures printed
	$(PY) pytest tests/e2e/realnode/test_autoscale.py -s

k8s: ## Build (once, cached in ~/.cache/gridwatch/k8s) the test control plane: kube-apiserver, etcd, kwok, helm ...
	bash tests/infra/k8s/build.sh
	bash tests/infra/k8s/build-node.sh
	bash tests/infra/k8s/build-prometheus-operator.sh
	bash tests/infra/k8s/fetch-keda-crds.sh
	bash tests/infra/k8s/build-metrics-server.sh

bench: setup ## Benchmarks on real Kafka and Redis (a few minutes): writes docs/benchmarks.md and docs/benchmarks.json
	@command -v wrk >/dev/null || { [ "$$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
		|| echo "[bench] wrk not installed: the API phase uses the Python load generator"
	$(UV) run --frozen --group bench python -m tests.bench run --full --out docs/benchmarks.md --json docs/benchmarks.json

bench-smoke: ## The benchmark harness at tiny sizes (part of `make test`; checks results, not timings)
	$(PY) pytest tests/integration/test_bench_smoke.py

.PHONY: chaos
chaos: setup ## Fault suite on real Kafka/Redis/PostgreSQL (a few minutes): kills, stalls, restarts; table in docs/reliability.md
	$(PY) python -m tests.chaos.suite --out docs/reliability.md

.PHONY: eval-forecast eval-forecast-speed
eval-forecast: ## Forecast accuracy (Taylor's demand, simulator site load) vs statsforecast, and speed: docs/forecasting.md
	OMP_NUM_THREADS=1 $(UV) run --frozen --group bench python -m tests.bench.forecasting

eval-forecast-speed: ## Only the forecast speed (10,000 machines, a few minutes): its section of docs/forecasting.md
	OMP_NUM_THREADS=1 $(UV) run --frozen --group bench python -m tests.bench.forecasting --speed

.PHONY: eval-anomaly
NAB_DIR ?= ../shared/data/nab-dev
eval-anomaly: ## Detector on the NAB dev set (NAB_DIR) and on simulator faults, with calibration: docs/anomaly-quality.md
	$(PY) python -m gridwatch.evaluation.anomaly --nab $(NAB_DIR) --out docs/anomaly-quality.md

.PHONY: eval-storage
eval-storage: ## Storage optimizer vs EMHASS (own env, tests/bench/emhass) and a rule-based baseline: docs/storage.md
	$(UV) run --frozen --group bench python -m tests.bench.storage --out docs/storage.md

dashboards: ## Regenerate the Grafana dashboards (charts/energy-site/dashboards/*.json) from gridwatch.dashboards
	$(PY) python -m gridwatch.dashboards.render --out charts/energy-site/dashboards

.PHONY: api-types
api-types: ## Regenerate the UI's API types (frontend/src/lib/api/) from the app's OpenAPI, without a server
	$(PY) python -m gridwatch.api.export frontend/src/lib/api/openapi.json
	npm --prefix frontend run api-types

.PHONY: ui-test screenshots
ui-test: ## Lint (tsc, eslint) and unit-test (Vitest) the web UI
	npm --prefix frontend ci --no-audit --no-fund --loglevel=error && npm --prefix frontend run lint && npm --prefix frontend test -- --run

screenshots: setup ## Start the local stack and refresh docs/screenshots/ with every view of the web UI
	$(PY) python -m tests.e2e.ui.stack

clean: ## Remove local state
	rm -rf .gridwatch

.PHONY: crds helm-lint images
HELM ?= $(shell command -v helm 2>/dev/null || echo $(HOME)/.cache/gridwatch/k8s/v1.37.2/bin/helm)

crds: ## Render crds/energysite.yaml (the source of truth) into the operator chart's CRD template
	$(PY) python -m gridwatch_operator.crd_template

.PHONY: chart-docs
CHART_DOCS := tools/chart-docs/node_modules/.bin/readme-generator
$(CHART_DOCS): tools/chart-docs/package-lock.json
	npm --prefix tools/chart-docs ci --no-audit --no-fund --loglevel=error
	@touch $@
chart-docs: $(CHART_DOCS) ## Regenerate charts/*/README.md's Parameters tables from the ## @param comments of values.yaml
	@for chart in charts/energy-site charts/gridwatch-operator; do \
		out=$$($(CHART_DOCS) --values $$chart/values.yaml --readme $$chart/README.md 2>&1) || { echo "$$out" | grep -v '^Skipping'; exit 1; }; \
		echo "$$chart/README.md: ok"; \
	done

.PHONY: contracts
contracts: ## Regenerate contracts/ (JSON Schema of every wire message + AsyncAPI) from the code (a test fails when stale)
	$(PY) python -m gridwatch.ingest.contract --out contracts

helm-lint: ## helm lint --strict both charts with every ci/*-values.yaml
	@for chart in charts/energy-site charts/gridwatch-operator; do \
		for values in $$chart/ci/*-values.yaml; do \
			$(HELM) lint --strict $$chart -f $$values >/dev/null || { $(HELM) lint --strict $$chart -f $$values; exit 1; }; \
			echo "helm lint $$chart -f $$values: ok"; \
		done; \
	done

images: ## Build the workloads and operator OCI images without Docker (cached by content in ~/.cache/gridwatch/images)
	bash tests/infra/images/build.sh

.PHONY: docker-images
docker-images: ## Build the same two images with Docker, from the Dockerfiles
	docker build -f workloads/Dockerfile -t ghcr.io/gridwatch/gridwatch:dev .
	docker build -f operator/Dockerfile -t ghcr.io/gridwatch/gridwatch-operator:dev .
