# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt bench/requirements.txt | sha256sum | cut -c1-12)
# The test suite keeps its Redis keys apart from a running `make run` (database 0).
# Tests call local HTTP servers (no outside internet here); the tests of the refusal turn it off.
TEST_ENV := REDIS_URL=redis://127.0.0.1:6380/1 DATABASE_CONN_MAX_AGE=0 OUTBOUND_ALLOW_PRIVATE_ADDRESSES=true
# Where `make run` keeps supervisord's socket, pid file and logs; the port of the web server.
RUN_DIR := $(CURDIR)/.data/run
WEB_PORT ?= 8000
# Web worker processes (HTTP and WebSockets); each also serves requests on threads.
WEB_WORKERS ?= 3
MINUTES ?= 10
# Every command here (the server, manage.py, the tests) signs with one key kept on this machine;
# settings refuse to start without a real one unless DEBUG is on.
SECRET_KEY_FILE := $(CURDIR)/.data/secret_key
ifndef SECRET_KEY
SECRET_KEY := $(shell test -s $(SECRET_KEY_FILE) || (mkdir -p $(dir $(SECRET_KEY_FILE)) && umask 077 && \
	$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $(SECRET_KEY_FILE)); cat $(SECRET_KEY_FILE))
endif
export SECRET_KEY

.PHONY: run test browser chaos soak provision venv migrate lint bench schema

provision:
	bash scripts/provision.sh

# The benchmarks' anchors (bench/requirements.txt) too: `make test` smoke-runs every benchmark.
$(STAMP): requirements.txt bench/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r bench/requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

migrate: provision venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0

# supervisord restarts whichever process dies and leaves the others serving; Ctrl-C stops them all.
run: migrate
	$(BIN)/python manage.py ensure_demo_user
	mkdir -p $(RUN_DIR)
	@echo "make run is a local demo: jobs may call private and loopback addresses" \
		"(OUTBOUND_ALLOW_PRIVATE_ADDRESSES=true); every other configuration refuses them."
	OUTBOUND_ALLOW_PRIVATE_ADDRESSES=true CHRONOVERSE_RUN_DIR=$(RUN_DIR) WEB_PORT=$(WEB_PORT) WEB_WORKERS=$(WEB_WORKERS) \
		PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/supervisord -c supervisord.conf

test: provision venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run >/dev/null
	# Production settings pass Django's deployment checks with no warning.
	CHRONOVERSE_PRODUCTION=true ALLOWED_HOSTS=chronoverse.example.com \
		SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		$(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

# Only the browser tests (browser/, also part of `make test`): Playwright drives Debian's Chromium
# over a platform of their own; screenshots and the platform's logs land in .data/browser/.
browser: provision venv
	$(TEST_ENV) $(BIN)/pytest browser $(PYTEST_ARGS)

# The fault suite: a supervised platform of its own (own database, Redis database and port), broken
# for real (SIGKILLed processes, Redis, PostgreSQL and the Docker engine restarted) and checked.
chaos: provision venv
	$(BIN)/pytest -c chaos/pytest.ini --rootdir chaos --confcutdir chaos chaos $(PYTEST_ARGS)

# A bounded soak: a few hundred workflows firing every minute for MINUTES minutes, with API and
# WebSocket traffic on loopback; prints what ran, what failed and each process's memory.
soak: provision venv
	$(BIN)/python chaos/soak.py --minutes $(MINUTES)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

schema: venv
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate

# Each hot path beside its anchor on this machine (its own database): bench/results/*.json and
# docs/benchmarks.md. ONLY=<name> for one, FULL=1 for the full scale; nothing here is asserted.
bench: provision venv
	$(BIN)/python -m bench.run $(if $(FULL),--scale full) $(ONLY)
