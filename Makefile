# Two commands on a fresh clone: `make run` and `make test`. Each creates the
# virtualenv and installs the pinned requirements when they are missing or changed.

VENV := .venv
PY := $(VENV)/bin/python
# The first Python 3.12+ on PATH (pyenv shims that point elsewhere are skipped).
PYTHON ?= $(shell for c in python3.13 python3.12 python3; do \
	if $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo $$c; break; fi; done)

.PHONY: run test worker install bench bench-peers

run: $(VENV)/.installed
	$(PY) manage.py serve

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

worker: $(VENV)/.installed
	$(PY) manage.py worker

install: $(VENV)/.installed

# The benchmark (docs/benchmarks.md): needs wrk for the HTTP part (apt-get install wrk).
bench: $(VENV)/.installed
	BENCH_VIA_MAKE=1 $(PY) -m scripts.bench $(BENCH_ARGS)

# This project beside pgqueuer, procrastinate, django-tasks-db and a raw-SQL floor
# (scripts/peers/README.md): the peers live in their own virtualenv, .peers-venv.
PEERS_VENV := .peers-venv

bench-peers: $(VENV)/.installed $(PEERS_VENV)/.installed
	$(PY) scripts/peers/launch.py

$(PEERS_VENV)/.installed: scripts/peers/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (python3.12, python3.13 or python3)."; exit 1; }
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/peers/requirements.txt
	@touch $@

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (python3.12, python3.13 or python3)."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@
