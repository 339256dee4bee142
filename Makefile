# One entry point for a fresh machine: `make demo` runs the main job, `make test` every test.
# Everything the project needs is installed here, from its own files.
PY ?= python3
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --quiet --disable-pip-version-check
# pip's expected "dependency conflicts" for the --no-deps frameworks become one note
PIP_FILTER := 2>&1 | awk -f requirements/pip-filter.awk
STAMP := $(VENV)/.installed
JS_BUNDLE := spikewidget/static/widget.js
# every module under js/src (model/, diagnose/, views/, ui/ and the top-level entries)
JS_SOURCES := $(shell find js/src -name '*.js' 2>/dev/null) $(wildcard js/package.json js/package-lock.json)

.PHONY: setup demo test lint bench browser js images clean gpu-wheels

$(STAMP): pyproject.toml requirements/torch-cpu.txt requirements/frameworks-nodeps.txt \
          requirements/frameworks-deps.txt requirements/pip-filter.awk Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -r requirements/torch-cpu.txt $(PIP_FILTER)
	$(PIP) install -r requirements/frameworks-deps.txt $(PIP_FILTER)
	$(PIP) install --no-deps -r requirements/frameworks-nodeps.txt $(PIP_FILTER)
	$(PIP) install -e ".[dev]" $(PIP_FILTER)
	touch $(STAMP)

# The widget's front end: ES modules in js/src bundled by esbuild into the package.
$(JS_BUNDLE): $(JS_SOURCES)
	@if [ -f js/package.json ]; then \
	  cd js && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	else echo "no js/ front end yet"; fi

js: $(JS_BUNDLE)

# Debian's Chromium for the browser tests (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

setup: $(STAMP) js

demo: setup
	$(BIN)/python -m spikewidget demo

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

# The README's pictures, from a real run of the story's acts 1-3 (docs/make_images.py).
images: setup browser
	$(BIN)/python docs/make_images.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

bench: setup browser
	$(BIN)/python benchmarks/bench_record.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_watch.py --threads 1 --repeats 101 --floor --net story,csnn
	$(BIN)/python benchmarks/bench_widget.py

# The frameworks as pure-Python wheels for the GPU machine (benchmarks/gpu_suite.sh; carry
# .whl there): it has torch but none of them, and no network.
gpu-wheels: setup
	rm -rf .whl && mkdir -p .whl
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
	  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
	  -d .whl snntorch==1.0.0 spikingjelly==2.0.0 nir nirtorch loguru
	$(BIN)/python -m pip wheel -q --no-deps -w .whl norse==1.1.0

clean:
	rm -rf $(VENV) build dist *.egg-info js/node_modules $(JS_BUNDLE)
