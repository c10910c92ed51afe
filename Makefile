# Everything runs inside .venv, created on first use from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv demo test test-sandbox controlplane lint typecheck check clean
# Image builds share one cached base tarball: never run targets in parallel.
.NOTPARALLEL:

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv with everything installed

demo: $(STAMP) ## run the whole thing on the sandbox: CRDs, operator, examples
	$(BIN)/python scripts/demo.py $(ARGS)

controlplane: ## build etcd and kube-* v1.37.2 from Go modules into a cache (once; needs Go)
	controlplane/build.sh

test: $(STAMP) controlplane ## run every test tier, the real control plane included
	$(BIN)/pytest -q

test-sandbox: $(STAMP) ## the tiers that need no Go: everything but the real control plane
	$(BIN)/pytest -q -m 'not real'

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test ## everything CI runs

.PHONY: bench
bench: $(STAMP) ## run the benchmarks that exist (scripts printing figures; docs/benchmarks.md)
	$(BIN)/pip install --quiet -e '.[bench]'
	@for script in bench/*/run.sh; do echo "== $$script"; "$$script" || exit 1; done

.PHONY: runner-image operator-image images
runner-image: ## build the runner image with buildah, no engine needed (docs/images.md)
	scripts/images/build-image.sh runner

operator-image: ## build the operator image with buildah, no engine needed (docs/images.md)
	scripts/images/build-image.sh operator

images: runner-image operator-image ## build every image and smoke-test it

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .sandbox .demo
