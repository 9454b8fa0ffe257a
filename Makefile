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
# lerobot 0.4.x asks for torch<2.11, which PyPI has only with its CUDA libraries: the venv takes ~9.5 GB
# and a first install peaks near 14 GB (downloads unpacked beside the venv; --no-cache-dir keeps no copy).
INSTALL_MIN_GB ?= 10
$(STAMP): pyproject.toml
	@echo "installing mimicrec into $(VENV) (first time: several minutes; lerobot brings torch)"
	@test -x $(BIN)/python || { free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	  [ "$$free" -ge $(INSTALL_MIN_GB) ] || { echo "make: error: $$free GB free on this disk; a first install" \
	    "needs ~14 GB (the venv alone ~9.5 GB): free some space and run make again" >&2; exit 1; }; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=71,<81" wheel  # lerobot 0.4.x: setuptools<81
	$(BIN)/python -m pip install --quiet --no-cache-dir -e ".[dev,ray]"
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
