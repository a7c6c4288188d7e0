# Quick start: `make demo` and `make test`. Both create .venv and install everything. `make lint`: ruff and mypy.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs install clean gpu-check

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: here it resolves to the local CPU build, never the CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/smoothcert demo

# The suite, then lint (ruff + mypy): CI runs this.
test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(MAKE) lint

# Settings in pyproject.toml ([tool.ruff], [tool.mypy]); the same checks run as pre-commit hooks.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The API reference from the docstrings (pdoc): build/api/index.html
docs: $(STAMP)
	$(BIN)/python tools/build_api_docs.py build/api

clean:
	rm -rf $(VENV) demo_out build .mypy_cache .ruff_cache

gpu-check: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py
