# Every target creates .venv and installs what it needs, so a machine with only Python, git and make suffices.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo needs only the package, scikit-learn and pandas (what examples/ imports), not the 2 GB dev toolchain.
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint typecheck docs smoke check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# pip >= 21.3 installs a pyproject project editable (PEP 660): upgrade only an older bundled pip (an index round trip
# saved on every first run).
$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c 'import sys, pip; sys.exit(int(pip.__version__.split(".")[0]) < 22)' \
		|| $(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sklearn,pandas]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python examples/train.py
	$(BIN)/python examples/serve.py

test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	PYTHON=$(BIN)/python bash scripts/wheel_smoke.sh
	$(BIN)/python -m pytest -q -n auto

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

smoke: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/wheel_smoke.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/track_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .azurite site
