# Developer entry points. CI (.ci/run) drives the same targets, so "works with make" is
# "works in CI". Override on the command line: make test VENV=.venv-dj61 PYTHON=python3.13
# DJANGO_SPEC='Django>=6.1,<6.2' PYTEST_ARGS="-m 'not browser'".
# EXTRA_SPECS adds pip requirements, each quoted: EXTRA_SPECS="'cryptography==3.4.8'".

PYTHON ?= python3
VENV ?= .venv
DJANGO_SPEC ?=
EXTRA_SPECS ?=
PYTEST_ARGS ?=
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# MariaDB/MySQL: a user that may create and drop test_* databases (.ci/run creates it).
MARIADB_URL ?= mysql://django_podio:django_podio@127.0.0.1:3306/django_podio
# PostgreSQL behind PgBouncer in transaction pooling mode (.ci/run starts one on 6432).
PGBOUNCER_URL ?= pgbouncer://postgres@127.0.0.1:6432/postgres
# What holds a lock or a lease across statements: tokens, the sync, tasks, hook processing.
PGBOUNCER_TESTS ?= tests/test_tokens.py tests/test_token_integrity.py tests/concurrency \
	tests/tasks tests/test_items.py tests/test_fetch_items_command.py tests/hooks/test_end_to_end.py \
	tests/hooks/test_nul.py tests/hooks/test_resilience.py tests/test_text.py tests/docs/test_databases.py
# What reaches the database's own behaviour (the above, and the admin, migrations, deletes,
# re-encryption, hooks, writes): the other Django versions run these on PostgreSQL.
DATABASE_TESTS ?= $(filter-out tests/hooks/%,$(PGBOUNCER_TESTS)) tests/hooks tests/writes tests/test_admin.py \
	tests/test_admin_permissions.py tests/test_deletion.py tests/test_reencrypt.py \
	tests/test_storage.py tests/test_conventions.py

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
LINT_PATHS := django_podio tests example_project benchmarks scripts docs

.DEFAULT_GOAL := help
.PHONY: help venv test test-postgres test-postgres-database test-mariadb test-pgbouncer lint \
	typecheck package demo clean messages messages-check

help:
	@echo "make venv           create $(VENV) and install django-podio with its test extras"
	@echo "make test           the whole test suite on SQLite (incl. the Chromium login test)"
	@echo "make test-postgres  the same on PostgreSQL ($(POSTGRES_URL))"
	@echo "make test-mariadb   the same on MariaDB/MySQL ($(MARIADB_URL))"
	@echo "make test-pgbouncer the token, sync and task tests through PgBouncer ($(PGBOUNCER_URL))"
	@echo "make test-postgres-database  the database tests only, on PostgreSQL"
	@echo "make lint           ruff check, ruff format --check, django-upgrade and bandit"
	@echo "make typecheck      mypy with django-stubs over django_podio"
	@echo "make package        build sdist and wheel into dist/, twine check, check-manifest"
	@echo "make demo           the example site on http://127.0.0.1:8000 against a fake Podio"
	@echo "                    (PORT=8765 for another port; the fake takes PORT+1 or FAKE_PORT)"
	@echo "make clean          remove build output, caches and the demo database"
	@echo "make docs           the documentation site in docs/_build/html (warnings fail)"
	@echo "make messages       update django_podio/locale (makemessages, then compilemessages)"
	@echo "make messages-check fail if the catalogs are stale, untranslated or not compiled"

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs whenever the package metadata changes (new dependency, new extra): all of it
# is in pyproject.toml (the version is read from django_podio/__init__.py at build time).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]' $(if $(DJANGO_SPEC),'$(DJANGO_SPEC)') $(EXTRA_SPECS)
	touch $@

# The type checker and packaging tools (the "dev" extra), only for the targets that use them.
$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(if $(DJANGO_SPEC),'$(DJANGO_SPEC)') $(EXTRA_SPECS)
	touch $@

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: venv
	DATABASE_URL='$(POSTGRES_URL)' $(BIN)/python -m pytest $(PYTEST_ARGS)

test-mariadb: venv
	DATABASE_URL='$(MARIADB_URL)' $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres-database: venv
	DATABASE_URL='$(POSTGRES_URL)' $(BIN)/python -m pytest -m 'not browser' $(PYTEST_ARGS) $(sort $(DATABASE_TESTS))

test-pgbouncer: venv
	DATABASE_URL='$(PGBOUNCER_URL)' $(BIN)/python -m pytest $(PYTEST_ARGS) $(PGBOUNCER_TESTS)

# The documentation site (Sphinx + Furo); warnings are errors, cross-references checked.
.PHONY: docs
docs: venv
	$(BIN)/python -m pip install --quiet -r docs/requirements.txt
	$(BIN)/python -m sphinx -E -W --keep-going -n -q -b html docs docs/_build/html

# The same checks as .pre-commit-config.yaml (and bandit). django-upgrade has no check-only
# mode: it rewrites what it would change and fails, so commit what it rewrote.
DJANGO_TARGET := 5.2
lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	find $(LINT_PATHS) -name '*.py' -print0 | xargs -0 $(BIN)/django-upgrade --target-version $(DJANGO_TARGET)
	$(BIN)/bandit --quiet --recursive django_podio --severity-level medium

# Translations (docs/translations.rst): both need GNU gettext (apt-get install gettext).
# makemessages runs from django_podio/ with this venv's Django; the flags are in the script.
# LOCALES="de" adds a language; every catalog in django_podio/locale is always updated.
LOCALES ?=
messages: venv
	$(BIN)/python scripts/messages.py update $(LOCALES)

messages-check: venv
	$(BIN)/python scripts/messages.py check

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# Builds in an isolated environment (what pip does for users), then checks what was built:
# README renders on PyPI, every tracked file is in the sdist, the sdist's own tests run.
package: $(DEV_STAMP)
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/check-manifest
	$(BIN)/python scripts/check_dist.py dist

# The ports are checked with the system Python first: a taken port is reported before .venv is
# built (scripts/demo.py needs only the standard library for that).
DEMO_ARGS = $(if $(PORT),--port $(PORT)) $(if $(FAKE_PORT),--fake-port $(FAKE_PORT))
demo:
	@$(PYTHON) scripts/demo.py --check-ports $(DEMO_ARGS)
	@$(MAKE) --no-print-directory venv
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache example_project/db.sqlite3
	find . \( -path './.venv*' -o -path ./.tox -o -path ./.git \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
