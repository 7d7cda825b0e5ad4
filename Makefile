# Switchboard: `make run` starts the helpdesk, `make test` runs the suite.
# Both set everything up first: the venv in .venv (Python 3.10), the pinned packages,
# the Debian packages the embedded defaults need, and a model if its inputs changed.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# python3.10 on PATH, else a pyenv-installed 3.10 (pyenv's shim may exist without being active).
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo $$p; break; }; done)

.PHONY: run test setup system-deps test-deps train validate nlu-report nlu-holdout nlu-bench shell bench bench-replicas bench-contacts lint clean

run: setup
	$(PY) -m processes run

test: setup test-deps
	$(PY) -m pytest

setup: $(INSTALLED) system-deps

$(INSTALLED): pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (Rasa 3.6 supports nothing newer)"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 'setuptools<70' wheel
	$(PY) -m pip install -q -e '.[dev]'
	@# WordLlama's embeddings (bot/components/sentence_features.py) are read from its wheel,
	@# never installed: the package pins numpy>=2 and pydantic>=2, which Rasa 3.6 cannot take.
	$(PY) -m pip download -q --no-deps --only-binary=:all: 'wordllama==0.4.0.post1' \
		-d $(VENV)/share/switchboard
	touch $@

system-deps:
	@scripts/system-deps.sh

test-deps:
	@scripts/system-deps.sh --test

train: $(INSTALLED)
	$(PY) -m processes train

validate: $(INSTALLED)
	$(PY) -m rasa data validate --domain domain --data data --config config.yml

nlu-report: $(INSTALLED)
	$(PY) -m processes nlu-report

# The held-out set (tests/nlu_holdout.yml) on the test model and on the production model,
# each trained first if its inputs changed: accuracy, the worst labels, the gate's verdict.
nlu-holdout: $(INSTALLED)
	$(PY) -m switchboard.nlu_report

# Public NLU benchmarks (bench/nlu_bench.py; hours on 2 cores, the full-data ones most). One
# benchmark, or a quick run:
# make nlu-bench NLU_BENCH_ARGS='--only banking77-10shot --epochs 20'
nlu-bench: $(INSTALLED)
	nice $(PY) bench/nlu_bench.py $(NLU_BENCH_ARGS)

shell: setup
	$(PY) -m processes shell

bench: setup
	$(PY) bench/throughput.py

# 1 vs 2 nodes behind haproxy (bench/replicas.py; needs haproxy and PostgreSQL: test-deps)
bench-replicas: setup test-deps
	$(PY) bench/replicas.py

bench-contacts: setup test-deps
	$(PY) bench/contacts.py

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

clean:
	rm -rf models reports results .rasa
