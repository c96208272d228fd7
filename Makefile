# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
# The test suite keeps its Redis keys apart from a running `make run` (database 0).
TEST_ENV := REDIS_URL=redis://127.0.0.1:6380/1 DATABASE_CONN_MAX_AGE=0

.PHONY: run test provision venv migrate lint bench schema

provision:
	bash scripts/provision.sh

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

migrate: provision venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0

run: migrate
	$(BIN)/python manage.py ensure_demo_user
	mkdir -p .data
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: provision venv
	$(BIN)/ruff check .
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run >/dev/null
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .

schema: venv
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate

# Speed of the hot paths on this machine (its own database; prints figures, asserts nothing timed).
bench: provision venv
	$(BIN)/python scripts/bench.py
