# Two entry points: `make demo` (install + main job) and `make test` (install dev + tests).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
DATA_ROOT ?= ../shared/data/thermal_action_dataset
CONFIG ?= slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x60
OUT ?= work_dirs/demo

.PHONY: install install-dev demo test lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"

# Main job: train the thermal-native SlowFast on DATA_ROOT, then test its best checkpoint.
demo: install
	$(BIN)/thermal-action train $(CONFIG) --data-root $(DATA_ROOT) --work-dir $(OUT)
	$(BIN)/thermal-action test $(CONFIG) $$(ls -t $(OUT)/best_*.pth | head -n 1) \
		--data-root $(DATA_ROOT) --work-dir $(OUT) --out $(OUT)/metrics.json

lint: install-dev
	$(BIN)/ruff check thermal_action tests benchmarks

test: install-dev lint
	$(BIN)/python -m pytest

benchmark: install
	$(BIN)/python benchmarks/model_cost.py

clean:
	rm -rf $(VENV) work_dirs .pytest_cache .ruff_cache
