# Two entry points: `make demo` (install + main job) and `make test` (install dev + tests).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
DATA_ROOT ?=
OUT ?= work_dirs/demo
# pytest-xdist workers for `make test`; one file stays on one worker (its fixtures and
# the README's blocks, which build on each other, run once, in order).
TEST_WORKERS ?= 2

.PHONY: install install-dev system-deps demo test lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"

# Main job: simulate the built-in dataset (or use DATA_ROOT), train the person-centred
# thermal-native SlowFast, test it on held-out recordings, draw the confusion matrix and a
# recording GIF.
demo: install
	$(BIN)/thermal-action demo --out $(OUT) $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

# What the tests start for real (CI runs this first): Debian's MQTT broker and Chromium
# (driven by Playwright with the system browser; Playwright downloads nothing).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := mosquitto chromium
system-deps:
	@if ! { [ -x /usr/sbin/mosquitto ] && [ -x /usr/bin/chromium ]; }; then \
		$(SUDO) apt-get install -y -q $(SYSTEM_PACKAGES) || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(SYSTEM_PACKAGES); }; fi

lint: install-dev
	$(BIN)/ruff check thermal_action tests benchmarks

test: install-dev lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

benchmark: install
	$(BIN)/python benchmarks/model_cost.py

clean:
	rm -rf $(VENV) work_dirs .pytest_cache .ruff_cache
