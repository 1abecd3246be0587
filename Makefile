# Two commands do everything on a fresh machine (see README):
#   make repro   set up .venv, run the whole pipeline (`dvc repro`), write reports/index.html
#   make test    set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.nnde-installed

.PHONY: setup repro test lint bench clean-venv

setup: $(STAMP)

# torch is installed first and pinned: the CPU wheel 2.13.0; a plain `pip install torch`
# would resolve a multi-GB CUDA build. A user with a GPU can install a CUDA torch 2.x
# into .venv beforehand: a version in the project's range is kept.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro
	@echo "Report: $(CURDIR)/reports/index.html"

# Two pytest-xdist workers (one per core of the reference 2-core machine), each test file
# on one worker (the paper-profile runs of one file build on each other); the tiny
# pipeline is built once and copied per worker (tests/conftest.py). TEST_WORKERS=0 runs
# serially.
TEST_WORKERS ?= 2
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src reproductions benchmarks tests

clean-venv:
	rm -rf $(VENV)

# Benchmarks (see README "Benchmarks"). `bench`: pytest-benchmark over the catalog
# (JSON in .benchmarks/perf.json), then the ours ÷ torchdiffeq gate against the committed
# baseline ratios. `asv-quick`: every asv benchmark once, in this environment.
# `bench-gate`: the working tree against the parent commit, interleaved in one run.
.PHONY: asv-quick bench-gate
bench: $(STAMP)
	mkdir -p .benchmarks
	NNDE_PERF=1 $(BIN)/python -m pytest tests/perf -q --benchmark-enable \
	  --benchmark-only --benchmark-json=.benchmarks/perf.json
	$(BIN)/nnde bench peers --baseline benchmarks/baseline/peers-cpu.json

asv-quick: $(STAMP)
	$(BIN)/asv machine --yes --machine nnde-local >/dev/null
	$(BIN)/asv run --python=same --quick --machine nnde-local --show-stderr

bench-gate: $(STAMP)
	$(BIN)/nnde bench compare --base HEAD~1
