# Quick start: `make demo` and `make test`. Both create .venv and install everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs install clean

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

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The API reference from the docstrings (pdoc): build/api/index.html
docs: $(STAMP)
	$(BIN)/python tools/build_api_docs.py build/api

clean:
	rm -rf $(VENV) demo_out build
