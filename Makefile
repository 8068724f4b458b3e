# Two commands matter: `make run` (the sandbox demo) and `make test` (lint, types, every test).
# Both create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck importlint unit integration interop venv clean kind-e2e soak bench bench-smoke

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,operator]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/syft-bg demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

importlint: $(STAMP)
	$(BIN)/lint-imports

# The suite runs with the image built and an engine to run it on (tests/container): the script
# starts Debian's dockerd if none runs (root), builds the Dockerfile, stops what it started.
test: lint typecheck importlint
	bash scripts/with-test-image.sh $(BIN)/python -m pytest -n 2 tests

clean:
	rm -rf $(VENV) .venv-interop .cache .mypy_cache .pytest_cache .ruff_cache

# The real upstream client (PyPI syft-client) in its own venv for tests/interop; the tests build
# it on first use, this target only does it ahead of time.
.PHONY: interop-venv
interop-venv:
	bash scripts/setup-interop-venv.sh

# A real cluster: kind + Docker (prints "skipped: ..." and exits 0 where kind or an engine is
# missing); the engine and the image come from the same scripts as the container tests.
kind-e2e: $(STAMP)
	bash scripts/kind-e2e.sh

# Long reliability runs (crash trials, fault storms); figures go into docs/reliability.md.
SOAK_FIGURES := .cache/soak-figures.jsonl
FUZZ_RUNS ?= 100000
soak: $(STAMP)
	$(BIN)/python -m pip install --quiet 'atheris>=2.3,<4'
	mkdir -p .cache/fuzz
	for t in codec names peers; do \
		$(BIN)/python tests/fuzz/fuzz_$$t.py -atheris_runs=$(FUZZ_RUNS) \
			-artifact_prefix=$(CURDIR)/.cache/fuzz/ || exit 1; \
	done
	rm -f $(SOAK_FIGURES)
	SYFT_SOAK=1 SYFT_RELIABILITY_FIGURES=$(CURDIR)/$(SOAK_FIGURES) \
		$(BIN)/python -m pytest -n 2 tests/integration/reliability
	$(BIN)/python scripts/reliability_report.py $(SOAK_FIGURES) docs/reliability.md "make soak"

# Benchmarks (bench/README.md): the full run regenerates bench/results.json and the README tables.
bench: $(STAMP)
	$(BIN)/python -m bench

bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke --out .cache/bench-smoke/results.json
