# make dev    local Vigil watching a demo app: embedded Redis, console channel, crons (ARGS="--fake-clock")
# make test   ruff, then the whole test suite (installs promtool and alertmanager when root)
# make bench  benchmarks (ARGS="--only imports")
# make validate  check monitoring.yaml (ARGS=path/to/other.yaml)
#
# Works on a fresh clone: creates .venv and installs requirements-dev.txt, again
# only when a requirements file changes (the stamp file names their hash).

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
REQS    := requirements.txt requirements-dev.txt
STAMP   := $(VENV)/.installed-$(shell cat $(REQS) | sha256sum | cut -c1-16)
ARGS    ?=

.PHONY: dev test bench validate setup

setup: $(STAMP)

$(PY):
	$(PYTHON3) -m venv $(VENV)

$(STAMP): $(REQS) | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

dev: $(STAMP)
	@$(PY) scripts/dev.py --demo $(ARGS)

test: $(STAMP)
	@bash .ci/oracles
	$(VENV)/bin/ruff check .
	@# pytest exits 5 when it collected no tests: that is a failure too, and says so.
	@$(PY) -m pytest -q $(ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	  exit $$rc

bench: $(STAMP)
	$(PY) scripts/bench.py $(ARGS)

validate: $(STAMP)
	@$(PY) scripts/validate_config.py $(ARGS)
