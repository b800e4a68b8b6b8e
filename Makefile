# make dev    local Vigil watching a demo app: embedded Redis, console channel, crons (ARGS="--fake-clock")
# make test   ruff, then the whole test suite (installs promtool and alertmanager when root)
# make bench  benchmarks (ARGS="--only imports")
# make validate  check monitoring.yaml (ARGS=path/to/other.yaml)
# make test-alert  a test alert through the channels (ARGS="--severity P0 --resolve"); by make dev if it runs
# make rule-dry-run  evaluate one metric rule now (ARGS=HighErrorRate)
# make demo-app  only the demo app make dev watches (ARGS=3001)
#
# Works on a fresh clone: creates .venv (Python 3.11) and installs requirements-dev.txt,
# and .venv312 (Python 3.12, what Vercel runs: .python-version) with requirements.txt and
# Vercel's own runtime (requirements-vercel.txt) for tests/test_vercel_runtime.py; again
# only when a requirements file changes (the stamp files name their hash).

PYTHON3   ?= $(shell scripts/find_python.sh 3.11 2>/dev/null || echo python3)
PYTHON312 ?= $(shell scripts/find_python.sh 3.12 2>/dev/null)
VENV      := .venv
PY        := $(VENV)/bin/python
REQS      := requirements.txt requirements-dev.txt
STAMP     := $(VENV)/.installed-$(shell cat $(REQS) | sha256sum | cut -c1-16)
VENV312   := .venv312
REQS312   := requirements.txt requirements-vercel.txt
STAMP312  := $(VENV312)/.installed-$(shell cat $(REQS312) | sha256sum | cut -c1-16)
ARGS      ?=

.PHONY: dev test bench validate setup test-alert rule-dry-run demo-app

setup: $(STAMP) $(STAMP312)

$(PY):
	$(PYTHON3) -m venv $(VENV)

$(STAMP): $(REQS) | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

$(VENV312)/bin/python:
	@test -n "$(PYTHON312)" || { scripts/find_python.sh 3.12; exit 1; }
	$(PYTHON312) -m venv $(VENV312)

$(STAMP312): $(REQS312) | $(VENV312)/bin/python
	$(VENV312)/bin/python -m pip install --quiet -r requirements.txt -r requirements-vercel.txt
	rm -f $(VENV312)/.installed-*
	touch $@

dev: $(STAMP)
	@$(PY) scripts/dev.py --demo $(ARGS)

test: $(STAMP) $(STAMP312)
	@bash .ci/oracles
	$(VENV)/bin/ruff check .
	@# pytest exits 5 when it collected no tests: that is a failure too, and says so.
	@$(PY) -m pytest -q $(ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	  exit $$rc

bench: $(STAMP) $(STAMP312)
	$(PY) scripts/bench.py $(ARGS)

# make validate prints the report and exits 1 on a bad file, without make's "*** [...] Error 1"
# line after it. Make prints that line for any failing recipe but one: a recursive (+) line
# that exits 1 in question mode (-q), which is how a sub-make's "not up to date" is passed up
# quietly. So `make validate` runs in question mode, where only + lines run; the venv comes
# from a sub-make in normal mode. (A make that ignores the MAKEFLAGS below still exits non-zero,
# with the Error line.)
ifeq ($(MAKECMDGOALS),validate)
MAKEFLAGS += --question
endif

validate:
	+@MAKEFLAGS= $(MAKE) -s --no-print-directory -f $(firstword $(MAKEFILE_LIST)) $(STAMP)
	+@$(PY) scripts/validate_config.py $(ARGS)

test-alert: $(STAMP)
	@$(PY) scripts/send_test_alert.py $(ARGS)

rule-dry-run: $(STAMP)
	@$(PY) scripts/rule_dry_run.py $(ARGS)

demo-app: $(STAMP)
	@$(PY) scripts/demo_target.py $(ARGS)
