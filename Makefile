# Two-command set-up: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test install install-dev sample lint format viz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e ".[dev,tune,webcam]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, render the embedded GazeNet sample, run __default__ (sample -> data -> train -> evaluate)
run: install
	$(BIN)/kedro run

## make test: install the dev (and tune) extras, run the whole suite
test: install-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

sample: install
	$(BIN)/kedro run --pipeline gazenet_sample

lint: install-dev
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

format: install-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

viz: install
	$(BIN)/kedro viz build

bench: install
	$(BIN)/python benchmarks/convert_throughput.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
