# Zigral's one command surface. Every target installs what is missing first (deploy/install.sh).
VENV := .venv/bin
ZIGRAL := $(VENV)/zigral

.PHONY: install up down status doctor test test-unit lint bench docs

install:            ## Debian packages, the browser user, the venv, Redis/RabbitMQ if none answers
	bash deploy/install.sh

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
	$(VENV)/pytest

test-unit: install  ## only the tests that need no services
	$(VENV)/pytest tests --ignore=tests/integration

bench: install      ## the benchmark harness against a private stack; writes bench/results/latest.{md,json}
	$(VENV)/pip install -q -e '.[bench]'
	$(VENV)/python bench/run.py

lint: install       ## ruff + mypy (strict)
	$(VENV)/ruff check app tests bench
	$(VENV)/ruff format --check app tests bench
	$(VENV)/mypy

docs:               ## regenerate docs/PROTOCOL.md's action reference from the action catalogue
	$(ZIGRAL) schema --write-docs docs/PROTOCOL.md
