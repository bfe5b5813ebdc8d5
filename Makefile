# The one entry point: make demo, make test, make lint, make bench.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench fuzz install system-deps docs clean

$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/perfops demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

system-deps:
	bash scripts/install-system-deps.sh

test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest

fuzz: $(STAMP)
	$(BIN)/pip install -q -r fuzz/requirements.txt
	bash fuzz/run_all.sh

docs: $(STAMP)
	$(BIN)/python -m perfops.cli.reference > docs/cli.md

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) perfops-demo .pytest_cache .ruff_cache .mypy_cache
