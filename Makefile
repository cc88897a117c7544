# gridledger: `make demo` (set up and run the main job) and `make test` (set up and run the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch must be installed before anything that depends on torch.
TORCH  := torch==2.13.0

.PHONY: demo test lint bench clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/gridledger demo --out out/demo

test: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -n 2

lint: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks

bench: $(VENV)/.runtime
	$(BIN)/python benchmarks/elecoin.py

clean:
	rm -rf $(VENV) out .pytest_cache
