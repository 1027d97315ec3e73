# Quick start: `make run` (serve everything on the embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
INSTALLED := $(VENV)/.installed

.PHONY: install translations messages run demo test lint format typecheck schemathesis compose-check lock clean bench-data bench bench-escalation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the declared or locked dependencies change.
$(INSTALLED): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(INSTALLED)

# Translations are compiled from locale/*.po on every install, run and test (pure Python).
translations: $(INSTALLED)
	$(BIN)/python -m helpdesk.i18n

install: $(INSTALLED) translations

# Web (http://$(BIND):$(PORT)), a Celery worker and beat, on SQLite and the file-system broker,
# kept running by supervisord (supervisord.conf): a worker or beat that crashes is started again.
# Ctrl-C stops all three. The links in e-mails (SITE_URL) point at the address served, unless
# SITE_URL is set. E-mails are kept in var/mail/ and listed at /admin/mail/ (helpdesk.mail).
PORT ?= 8000
BIND ?= 127.0.0.1
run: export DEBUG ?= true
run: export PATH := $(abspath $(BIN)):$(PATH)
run: export HELPDESK_VAR_DIR := $(abspath $(or $(HELPDESK_VAR_DIR),var))
run: export PORT := $(PORT)
run: export BIND := $(BIND)
run: export SITE_URL ?= http://$(BIND):$(PORT)
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo --tickets
	@echo "Web: http://$(BIND):$(PORT)/   Admin: /admin/   API: /api/v1/guides/   Docs: /api/docs/"
	@echo "Links in e-mails: $$SITE_URL   E-mails: $$HELPDESK_VAR_DIR/mail/ and /admin/mail/"
	$(BIN)/supervisord -c supervisord.conf

demo: export DEBUG ?= true
demo: install
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo --tickets

# The suite runs on PYTEST_WORKERS pytest-xdist workers (processes; most of the slow tests wait
# on a worker, a server or a browser, so more workers than CPUs still help). PYTEST_WORKERS=0
# runs it in this one process. Tests marked xdist_group run in the same worker.
PYTEST_WORKERS ?= 3
test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	DEBUG=true $(BIN)/mypy helpdesk guides tickets

# The scale benchmark (docs/performance.md, bench/README.md) on a throw-away PostgreSQL
# database: create it first (createdb helpdesk_bench). bench-data adds BENCH_TICKETS generated
# tickets (run it once); bench measures the agent workspace against them.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/helpdesk_bench
BENCH_TICKETS ?= 1000000

bench-data: export DEBUG ?= true
bench-data: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench-data: install
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo
	$(MANAGE) generate_tickets --tickets $(BENCH_TICKETS)

bench: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench: install
	$(BIN)/python bench/workspace.py $(BENCH_ARGS)

# Escalations end to end (bench/escalation.py): starts gunicorn and a Celery worker on loopback,
# on its own PostgreSQL database (helpdesk_bench_escalation, dropped and made again) and Redis
# database 5, escalates BENCH_ESCALATION_N attempts at each concurrency level, stops them.
BENCH_ESCALATION_N ?= 200
BENCH_ESCALATION_LEVELS ?= 1,4,16
bench-escalation: install
	$(BIN)/python bench/escalation.py --n $(BENCH_ESCALATION_N) --levels $(BENCH_ESCALATION_LEVELS) $(BENCH_ARGS)

# Re-extract the strings to translate into locale/*/LC_MESSAGES/django.po (needs GNU gettext).
messages: install
	DEBUG=true $(MANAGE) makemessages --locale ar --locale en --no-obsolete --ignore '.venv/*' --ignore 'var/*'

# The live API against its own OpenAPI schema (starts a server on a free loopback port).
schemathesis: install
	BIN=$(BIN) bash .ci/schemathesis

# docker-compose.yml parsed by docker-compose itself (no Docker engine needed).
compose-check:
	bash .ci/compose-check

# Re-pin every dependency after editing pyproject.toml.
lock: $(BIN)/python
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
