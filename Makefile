# gridledger: `make demo` (set up and run the main job) and `make test` (set up and run the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch must be installed before anything that depends on torch.
TORCH  := torch==2.13.0

.PHONY: demo test lint bench clean venv contracts
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

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

# Debian's chromium drives the browser tests; wrk the web benchmark.
/usr/bin/chromium:
	$(APT) update -qq && $(APT) install -y -qq chromium

/usr/bin/wrk:
	$(APT) update -qq && $(APT) install -y -qq wrk

test: $(VENV)/.test contracts/node_modules/.installed /usr/bin/chromium
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -n 2

lint: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks

bench: $(VENV)/.test contracts/node_modules/.installed /usr/bin/wrk
	$(BIN)/python benchmarks/elecoin.py
	$(BIN)/python benchmarks/ledger.py
	$(BIN)/python benchmarks/community.py
	$(BIN)/python benchmarks/v2v.py
	$(BIN)/python benchmarks/forecast.py
	$(BIN)/python benchmarks/web.py

contracts: contracts/node_modules/.installed
	cd contracts && node compile.mjs

clean:
	rm -rf $(VENV) out .pytest_cache
