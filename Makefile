# mimicrec: `make demo` runs the whole pipeline, `make test` the test suite; both install first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: install demo test lint bench bench-generate clean xvfb

install: $(STAMP)

# The keyboard test needs a virtual X server and xdotool: install them where we may (root, Debian).
xvfb:
	@command -v Xvfb >/dev/null && command -v xdotool >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get install -y -q xvfb xdotool >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q xvfb xdotool >/dev/null 2>&1; }; }; } || \
	  echo "note: Xvfb/xdotool not installed; the keyboard test will be skipped"

# (Re)install when the venv is missing or pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@echo "installing mimicrec into $(VENV) (first time: several minutes; lerobot brings torch)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=68" wheel
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	touch $(STAMP)

demo: install
	$(BIN)/python scripts/demo.py

test: install xvfb
	$(BIN)/ruff check envs recorder augment tests scripts
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check envs recorder augment tests scripts

bench: install
	$(BIN)/python scripts/bench_env.py

bench-generate: install
	$(BIN)/python scripts/bench_generate.py

clean:
	rm -rf $(VENV) build *.egg-info
