# Two commands do all the setup on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv

.PHONY: demo test lint format bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

# Core install: what a user needs to run forgeml.
$(VENV)/.core: pyproject.toml | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e .
	touch $@

# Development install: core + every test dependency.
# PyTorch's CPU build comes through pip first: uv would resolve the multi-GB CUDA build.
$(VENV)/.dev: pyproject.toml | $(UV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/python -m compileall -q src
	$(BIN)/forgeml demo --dir demo-project --force

test: $(VENV)/.dev
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/ingest_csv.py
	$(BIN)/python benchmarks/tracking_mlflow.py

clean:
	rm -rf $(VENV) demo-project .pytest_cache .mypy_cache .ruff_cache
