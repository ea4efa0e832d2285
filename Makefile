# fedlib developer entry points.  `make help` lists them.
#
# Everything runs from a project-local virtualenv (.venv) built from pyproject.toml; `make venv`
# creates it from nothing and is incremental (it reinstalls only when pyproject.toml changes).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PY       ?= python3.11
VENV     ?= .venv
VPY      := $(VENV)/bin/python
STAMP    := $(VENV)/.stamp
BSTAMP   := $(VENV)/.stamp-bench
FRAMEWORK ?= flask
EXTRAS   ?= dev,redis,flask,starlette,django,http,testing,docs
PIP_OPTS ?= --quiet --disable-pip-version-check --progress-bar off

# Debian packages the tests need: the differential tests call the xmlsec1 CLI (so does pysaml2 in the
# bench and as the real IdP); the Redis store tests start a real redis-server; the browser tests drive
# headless chromium. The real-IdP tests (fedlib.testing.realidp) run SimpleSAMLphp where Debian ships it
# (Debian 12: simplesamlphp 1.19 + php-cli and the extensions it needs; Apache comes along as a
# dependency and need not run); Debian 13 has no SimpleSAMLphp, so there only pysaml2's IdP runs.
DEBIAN_MAJOR := $(shell cut -d. -f1 /etc/debian_version 2>/dev/null)
REALIDP_SYSDEPS := $(if $(filter 12,$(DEBIAN_MAJOR)),simplesamlphp php-cli php-xml php-mbstring php-curl)
SYSDEPS  ?= xmlsec1 redis-server chromium chromium-driver $(REALIDP_SYSDEPS)

# pysaml2's IdP runs in a venv of its own: pysaml2 pins an older cryptography than fedlib's dev venv
# has (keep the pin in step with the bench extra in pyproject.toml).
PYSAML2_VENV ?= .venv-pysaml2
PYSAML2_PIN  ?= pysaml2==7.5.5
PYSAML2_STAMP := $(PYSAML2_VENV)/.stamp-$(PYSAML2_PIN)

# bench/metadata.py's python-xmlsec row runs in a venv of its own: python-xmlsec's wheel bundles its own
# libxml2, which must be the one lxml was built with, and fedlib's dev venv has a newer lxml (another
# libxml2). Pinned to a pair built against libxml2 2.14.6; only what that row imports goes in.
BENCH_VENV ?= .venv-bench
BENCH_PINS ?= lxml==6.1.3 xmlsec==1.3.17 cryptography==51.0.1 pybase64==1.5.1
BENCH_VENV_STAMP := $(BENCH_VENV)/.stamp-pins

SHARED   ?= ../shared
INTEROP  := $(SHARED)/interop/peers/run.py
FEDLIB   := $(VENV)/bin/fedlib

LINT_PATHS := $(wildcard src tests bench examples docs/gen)
# `make fuzz`: the tests/fuzz targets with a long budget and fresh random examples each run
# (`make test` runs the same targets bounded and deterministic, in well under a minute).
FUZZ_EXAMPLES ?= 200000
FUZZ_ARGS  ?=
BENCH_ARGS ?=
DEMO_ARGS  ?=

.PHONY: help venv sysdeps realidp-venv bench-venv lint test fuzz interop demo bench bench-metadata clean distclean docs

help:
	@echo "fedlib make targets:"
	@echo "  make venv      create/update $(VENV) from pyproject.toml (pip install -e '.[$(EXTRAS)]')"
	@echo "  make sysdeps   apt-get install missing system packages ($(SYSDEPS)); needs root"
	@echo "  make realidp-venv  $(PYSAML2_VENV) with $(PYSAML2_PIN), for the real-IdP tests' pysaml2 IdP"
	@echo "  make lint      ruff check, ruff format --check, mypy --strict on src/"
	@echo "  make test      lint + pytest + the interop corpus in $(SHARED)/interop/peers + make docs"
	@echo "  make fuzz      the fuzz targets (tests/fuzz) long and with random seeds"
	@echo "                 (FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) examples per unit of each target's weight)"
	@echo "  make interop   only the interop corpus (both policies)"
	@echo "  make docs      build the docs site into site/ (mkdocs --strict: a broken link fails)"
	@echo "  make demo      run the example app (FRAMEWORK=flask|fastapi|django) against the bundled test IdPs on 127.0.0.1"
	@echo "                 (self-check, then serves; DEMO_ARGS=--check exits after the self-check)"
	@echo "  make bench     compare fedlib with python3-saml, pysaml2, signxml and the crypto floor"
	@echo "                 (BENCH_ARGS=--quick for a smoke run)"
	@echo "  make bench-metadata  load a signed 10,000-entity aggregate: fedlib, the floor and python-xmlsec"
	@echo "                 (python-xmlsec from $(BENCH_VENV), built by make bench-venv; BENCH_ARGS as above)"
	@echo "  make clean     remove caches and build artefacts (keeps $(VENV))"
	@echo "  make distclean clean, and remove $(VENV)"

# ---------------------------------------------------------------------------------------------
# Virtualenv.  The stamp is the real target: it is rebuilt when pyproject.toml changes or when
# the venv is missing.  $(PY) falls back to python3 if python3.11 is not on PATH.

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@py="$(PY)"; \
	if ! command -v "$$py" >/dev/null 2>&1; then \
	  echo "venv: $$py not found, falling back to python3"; py=python3; \
	fi; \
	if ! "$$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	  echo "error: fedlib needs Python >= 3.11; '$$py' is $$("$$py" -V 2>&1 || echo missing). Set PY=/path/to/python3.11" >&2; \
	  exit 1; \
	fi; \
	if [ ! -x "$(VPY)" ] || ! "$(VPY)" -m pip --version >/dev/null 2>&1; then \
	  echo "venv: creating $(VENV) with $$("$$py" -V 2>&1) ($$(command -v "$$py"))"; \
	  "$$py" -m venv "$(VENV)" || { \
	    echo "error: '$$py -m venv' failed; on Debian install the venv module: apt-get install python3-venv" >&2; \
	    exit 1; }; \
	fi
	@echo "venv: upgrading pip, installing fedlib -e '.[$(EXTRAS)]'"
	@$(VPY) -m pip install $(PIP_OPTS) --upgrade pip
	@$(VPY) -m pip install $(PIP_OPTS) -e '.[$(EXTRAS)]'
	@touch $@
	@echo "venv: ready ($(VENV))"

# ---------------------------------------------------------------------------------------------
# System packages: install only what is missing, with one apt-get update, only if needed.

sysdeps:
	@missing=""; \
	for p in $(SYSDEPS); do \
	  if command -v dpkg-query >/dev/null 2>&1; then \
	    dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	  else \
	    command -v "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; \
	  fi; \
	done; \
	if [ -z "$$missing" ]; then echo "sysdeps: present ($(SYSDEPS))"; exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "error: missing system packages:$$missing. Install them as root: 'sudo make sysdeps' or 'sudo apt-get install$$missing'" >&2; \
	  exit 1; \
	fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "error: missing system packages:$$missing and no apt-get on this machine; install them by hand" >&2; \
	  exit 1; \
	fi; \
	echo "sysdeps: installing$$missing (apt-get)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get -qq -o DPkg::Lock::Timeout=300 update; \
	apt-get -qq -y -o DPkg::Lock::Timeout=300 install --no-install-recommends $$missing >/dev/null; \
	echo "sysdeps: installed$$missing"

# pysaml2's IdP (fedlib.testing.realidp.pysaml2_idp finds $(PYSAML2_VENV)/bin/python by itself).
realidp-venv: $(PYSAML2_STAMP)

$(PYSAML2_STAMP):
	@py="$(PY)"; command -v "$$py" >/dev/null 2>&1 || py=python3; \
	if [ ! -x "$(PYSAML2_VENV)/bin/python" ]; then "$$py" -m venv "$(PYSAML2_VENV)"; fi
	@echo "realidp-venv: installing $(PYSAML2_PIN) into $(PYSAML2_VENV)"
	@$(PYSAML2_VENV)/bin/python -m pip install $(PIP_OPTS) '$(PYSAML2_PIN)'
	@touch $@

# ---------------------------------------------------------------------------------------------
# Checks.  `lint` runs all three tools and fails at the end if any failed.

lint: $(STAMP)
	@rc=0; \
	echo "== ruff check $(LINT_PATHS)"; $(VENV)/bin/ruff check $(LINT_PATHS) || rc=1; \
	echo "== ruff format --check $(LINT_PATHS)"; $(VENV)/bin/ruff format --check $(LINT_PATHS) || rc=1; \
	echo "== mypy --strict src/fedlib"; $(VENV)/bin/mypy --strict src/fedlib || rc=1; \
	if [ $$rc -ne 0 ]; then echo "lint: FAILED" >&2; fi; \
	exit $$rc

# The interop corpus lives in the shared tree beside the repo; CI (CI=true) must have it.
define run_interop
	@if [ -f "$(INTEROP)" ]; then \
	  echo "== interop corpus (default policy)"; \
	  $(VPY) $(INTEROP) --cmd $(FEDLIB); \
	  echo "== interop corpus (--allow-sha1)"; \
	  $(VPY) $(INTEROP) --cmd $(FEDLIB) --allow-sha1; \
	elif [ "$${CI:-}" = "true" ]; then \
	  echo "error: interop corpus $(INTEROP) not found (CI=true: $(SHARED) must be checked out beside the repo)" >&2; \
	  exit 1; \
	else \
	  echo "warning: interop corpus $(INTEROP) not found; SKIPPING the interop runs (set SHARED=/path/to/shared)" >&2; \
	fi
endef

# pytest runs all of tests/, so the bounded, deterministic fuzz run (tests/fuzz, marker `fuzz`) is part of it.
test: $(STAMP) sysdeps realidp-venv lint
	@echo "== pytest (includes the bounded fuzz run, tests/fuzz)"
	$(VPY) -m pytest -q -m "not django_browser"
	@echo "== the Chromium flows against the Django example (in their own process: Django's settings are per process)"
	$(VPY) -m pytest -q -p no:cacheprovider -m django_browser tests/browser
	$(run_interop)
	@$(MAKE) --no-print-directory docs

fuzz: $(STAMP)
	@echo "== fuzz: tests/fuzz, FEDLIB_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES), random seeds (Ctrl-C stops; failures print a reproducer)"
	FEDLIB_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FEDLIB_FUZZ_RANDOM=1 $(VPY) -m pytest -q -p no:cacheprovider -m fuzz tests/fuzz $(FUZZ_ARGS)

interop: $(STAMP)
	$(run_interop)

# --- wt-pkg (issue #12 §5): the docs site.  Strict: a broken link, a missing page in the nav or a
# docstring griffe cannot read fails the build.  The generated pages (error codes, per-IdP guides) are
# written by docs/gen/hooks.py at build time, so they cannot go stale.
docs: $(STAMP)
	@echo "== mkdocs build --strict (site/)"
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site
# --- end wt-pkg ---

# ---------------------------------------------------------------------------------------------

demo: $(STAMP)
	@test -f examples/$(FRAMEWORK)_app/run.py || { echo "make demo: no example app for FRAMEWORK=$(FRAMEWORK) (there is: $$(ls -d examples/*_app | sed 's|examples/||; s|_app||' | tr '\n' ' '))" >&2; exit 2; }
	$(VPY) examples/$(FRAMEWORK)_app/run.py $(DEMO_ARGS)

# The bench peers (python3-saml, pysaml2, xmlsec) go into the same venv via the `bench` extra;
# pysaml2 verifies with the xmlsec1 binary, hence sysdeps.
$(BSTAMP): $(STAMP) pyproject.toml
	@echo "bench: installing fedlib -e '.[$(EXTRAS),bench]'"
	@$(VPY) -m pip install $(PIP_OPTS) -e '.[$(EXTRAS),bench]'
	@touch $@

bench: $(BSTAMP) sysdeps
	$(VPY) bench/verify.py $(BENCH_ARGS)

bench-venv: $(BENCH_VENV_STAMP)

$(BENCH_VENV_STAMP): Makefile
	@py="$(PY)"; command -v "$$py" >/dev/null 2>&1 || py=python3; \
	if [ ! -x "$(BENCH_VENV)/bin/python" ]; then "$$py" -m venv "$(BENCH_VENV)"; fi
	@echo "bench-venv: installing $(BENCH_PINS) into $(BENCH_VENV)"
	@$(BENCH_VENV)/bin/python -m pip install $(PIP_OPTS) $(BENCH_PINS)
	@$(BENCH_VENV)/bin/python -c 'import lxml.etree, xmlsec; xmlsec.SignatureContext()'
	@touch $@

bench-metadata: $(STAMP) bench-venv
	PYTHONPATH=src $(VPY) bench/metadata.py --xmlsec-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

# ---------------------------------------------------------------------------------------------

clean:
	rm -rf build dist site .pytest_cache .mypy_cache .ruff_cache .hypothesis src/*.egg-info
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o \( -name '*.py[co]' -o -name '*.db' \) -type f -exec rm -f {} +

distclean: clean
	rm -rf $(VENV) $(PYSAML2_VENV) $(BENCH_VENV)
