# Predicto: the two commands are `make demo` and `make test`; everything else is set up on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench lint lock clean warehouse-start warehouse-stop

setup: $(STAMP)

# uv is pinned in requirements.lock like every other package; it installs the lock in seconds.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "$$(grep '^uv==' requirements.lock)"
	$(BIN)/uv pip install -q --compile-bytecode -p $(BIN)/python -r requirements.lock
	@# compat mode: the checkout itself is on sys.path, so a new top-level package needs no reinstall
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps --config-setting editable_mode=compat -e .
	@touch $@

demo: setup
	$(BIN)/predicto demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m benchmarks

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Re-resolve every pinned version from pyproject.toml's direct dependencies.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra dev -p 3.11 -o requirements.lock --no-header -q

warehouse-start: setup
	$(BIN)/predicto warehouse start

warehouse-stop: setup
	$(BIN)/predicto warehouse stop

clean:
	-$(BIN)/predicto warehouse stop 2>/dev/null
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache
