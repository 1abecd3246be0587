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

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src reproductions benchmarks tests

clean-venv:
	rm -rf $(VENV)
