# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

# Reinstall whenever pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/endcap demo

test: install
	PYTHON=$(BIN)/python bash scripts/test

lint: install
	$(BIN)/ruff check src tests migrations
	$(BIN)/ruff format --check src tests migrations
	$(BIN)/mypy

bench: install
	$(BIN)/python -m tests.perf.bench_api
	$(BIN)/python -m tests.perf.bench_demo

clean:
	rm -rf $(VENV) endcap-demo .pytest_cache .mypy_cache .ruff_cache
