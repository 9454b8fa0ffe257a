# mimicrec: `make demo` runs the whole pipeline, `make test` the test suite; both install first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: install demo test lint bench clean

install: $(STAMP)

# (Re)install when the venv is missing or pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@echo "installing mimicrec into $(VENV) (first time: several minutes; lerobot brings torch)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=68" wheel
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/python scripts/demo.py

test: install
	$(BIN)/ruff check envs recorder augment tests scripts
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check envs recorder augment tests scripts

bench: install
	$(BIN)/python scripts/bench_env.py

clean:
	rm -rf $(VENV) build *.egg-info
