# gridledger: `make demo` (set up and run the main job) and `make test` (set up and run the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch must be installed before anything that depends on torch.
TORCH  := torch==2.13.0

.PHONY: demo test lint bench clean venv contracts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/gridledger demo --out out/demo

# Solidity compiler, OpenZeppelin and the anvil dev node (tests only; running needs no Node.js).
contracts/node_modules/.installed: contracts/package.json contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: $(VENV)/.test contracts/node_modules/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -n 2

lint: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks

bench: $(VENV)/.runtime contracts/node_modules/.installed
	$(BIN)/python benchmarks/elecoin.py
	$(BIN)/python benchmarks/ledger.py
	$(BIN)/python benchmarks/community.py
	$(BIN)/python benchmarks/v2v.py
	$(BIN)/python benchmarks/forecast.py

contracts: contracts/node_modules/.installed
	cd contracts && node compile.mjs

clean:
	rm -rf $(VENV) out .pytest_cache
