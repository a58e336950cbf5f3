# Zigral's one command surface. `up` and `test` install what is missing first (deploy/install.sh, as root);
# `lint` and `test-unit` need only the venv (deploy/venv.sh, no root).
VENV := .venv/bin
ZIGRAL := $(VENV)/zigral

.PHONY: install venv up down status doctor test test-unit lint bench lock

install:            ## Debian packages, the browser user, the production venv, Redis/RabbitMQ if none answers
	bash deploy/install.sh

venv:               ## the venv with the test and lint tools, from requirements/dev.txt (no root)
	bash deploy/venv.sh dev

up: install         ## start the whole stack under supervisord and wait until it is ready
	$(ZIGRAL) up

down:               ## stop everything cleanly
	@if [ -x $(ZIGRAL) ]; then $(ZIGRAL) down; else echo "Zigral is not installed."; fi

status:             ## supervisorctl status
	$(ZIGRAL) status

doctor:             ## check every part for real
	$(ZIGRAL) doctor

test:               ## the whole suite, real services included
	ZIGRAL_INSTALL_TEST_TOOLS=1 bash deploy/install.sh
	bash deploy/venv.sh bench  # dev + dramatiq: the suite smoke-runs the benchmark against its peer
	$(VENV)/pytest

test-unit: venv     ## only the tests that need no services
	$(VENV)/pytest tests --ignore=tests/integration

bench: install      ## the benchmark harness against a private stack; writes bench/results/latest.{md,json}
	bash deploy/venv.sh bench
	$(VENV)/python bench/run.py

lint: venv          ## ruff + mypy (strict)
	$(VENV)/ruff check app tests bench
	$(VENV)/ruff format --check app tests bench
	$(VENV)/mypy

# Pin every dependency (with hashes) after changing pyproject.toml's; uv runs from a throwaway venv.
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header --quiet
lock:               ## regenerate requirements/{runtime,dev,bench}.txt from pyproject.toml
	python3 -m venv .lock-venv && .lock-venv/bin/pip install -q uv
	.lock-venv/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements/runtime.txt
	.lock-venv/bin/uv pip compile pyproject.toml --extra test --extra lint $(LOCK_FLAGS) -o requirements/dev.txt
	.lock-venv/bin/uv pip compile pyproject.toml --extra test --extra lint --extra bench $(LOCK_FLAGS) \
		-o requirements/bench.txt
	rm -rf .lock-venv
