# gridledger: `make demo` (set up and run the main job) and `make test` (set up and run the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Exactly the locked set, every file checked against its hash. The locks pin the CPU build of
# PyTorch (torch==2.13.0+cpu), so nothing can pull a CUDA build.
PIP_LOCKED := $(BIN)/pip install --quiet --require-hashes --no-deps
RUNTIME_LOCK := requirements/runtime.lock
TEST_LOCK    := requirements/test.lock
# The tool that refreshes the locks (make lock), pinned like everything else.
UV := uv==0.13.9
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --find-links /opt/wheels --no-header --annotation-style line \
	-c requirements/constraints.txt

.PHONY: demo test test-other-kernels check-lock check-install lint bench clean venv contracts lock lock-upgrade slither
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python $(RUNTIME_LOCK) pyproject.toml
	$(PIP_LOCKED) -r $(RUNTIME_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime $(TEST_LOCK)
	$(PIP_LOCKED) -r $(TEST_LOCK)
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

# The tests whose inputs come from training or draws run again on other CPU kernels (as on
# another machine): torch's generic ATen kernels and numba compiled for a generic CPU.
test-other-kernels: $(VENV)/.test contracts/node_modules/.installed
	ATEN_CPU_CAPABILITY=default NUMBA_CPU_NAME=generic NUMBA_CACHE_DIR=$(CURDIR)/.numba-generic \
		$(BIN)/pytest -n 2 -m seed_sensitive -p no:cacheprovider

# Installed packages against the lock: prints every difference and fails on one.
check-lock: $(VENV)/.test
	$(BIN)/pip freeze --all --exclude-editable
	$(BIN)/gridledger doctor --check-lock $(TEST_LOCK)

# A fresh venv with only the runtime lock and `pip install .` (a wheel, not the checkout):
# the package data is complete and `import gridledger` registers its Gymnasium envs.
INSTALL_CHECK := $(CURDIR)/.install-check
check-install:
	rm -rf $(INSTALL_CHECK) && $(PYTHON) -m venv $(INSTALL_CHECK)
	$(INSTALL_CHECK)/bin/pip install --quiet --require-hashes --no-deps -r $(RUNTIME_LOCK)
	$(INSTALL_CHECK)/bin/pip install --quiet --no-deps .
	cd /tmp && $(INSTALL_CHECK)/bin/python -c "import gridledger, gymnasium as gym; \
		env = gym.make('gridledger/V2V-v0'); env.reset(seed=0); print('gym.make(gridledger/V2V-v0): ok')"
	cd /tmp && $(INSTALL_CHECK)/bin/gridledger elecoin solve --json > /dev/null && echo "installed CLI: ok"
	rm -rf $(INSTALL_CHECK)

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

# Static analysis: slither in its own locked virtualenv (its web3<8 pin clashes with ours), over
# the contracts compiled by the pinned solc-js (contracts/solc-standard-json.mjs stands in for a
# native solc). Fails on any High/Medium finding not explained in contracts/slither-triage.json.
SLITHER_VENV := .venv-slither
SLITHER_LOCK := requirements/slither.lock

$(SLITHER_VENV)/.installed: $(SLITHER_LOCK)
	$(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install --quiet --require-hashes --no-deps -r $(SLITHER_LOCK)
	touch $@

slither: $(SLITHER_VENV)/.installed contracts/node_modules/.installed
	$(SLITHER_VENV)/bin/python contracts/slither_check.py --slither $(CURDIR)/$(SLITHER_VENV)/bin/slither

# Refresh the locks on purpose: keeps every pin that still resolves (lock-upgrade takes the
# newest releases the ranges in pyproject.toml allow). The runtime lock is the test lock's subset.
lock: $(BIN)/python
	$(BIN)/pip install --quiet $(UV)
	$(UV_COMPILE) --extra test -o $(TEST_LOCK)
	$(UV_COMPILE) -c $(TEST_LOCK) -o $(RUNTIME_LOCK)

lock-upgrade: $(BIN)/python
	$(BIN)/pip install --quiet $(UV)
	$(UV_COMPILE) --extra test --upgrade -o $(TEST_LOCK)
	$(UV_COMPILE) -c $(TEST_LOCK) -o $(RUNTIME_LOCK)

clean:
	rm -rf $(VENV) $(SLITHER_VENV) out .pytest_cache .numba-generic .install-check
