"""The browser tests' platform and browser.

One real Chronoverse for the whole package, started once and stopped after its last test: daphne
(ASGI, so the pages' WebSockets work), one Celery worker consuming both queues (jobs and control)
and Celery beat (the scheduler tick), as `make run` has them, each a subprocess. It has a database
of its own (test_<name>_browser, migrated at the start and dropped at the end: the scheduler tick
never sees the other tests' workflows, nor they its rows) and a Redis server of its own. Its
containers, images and networks carry an installation name of their own, so neither a `make run`
on the same engine nor the other tests' containers are touched, and what it left is removed at
the end.

The browser is Debian's Chromium (the provisioning installs it): Playwright never downloads one.
Screenshots and the platform's logs go to .data/browser/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import requests
from django.conf import settings
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

from conftest import _answers, _free_port, _pings, wait_for

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / ".data" / "browser"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
INSTALLATION_LABEL = "chronoverse.installation"


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """pytest-playwright's launch options: Debian's Chromium, headless (`playwright install` never runs)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make provision` installs Debian's chromium package.")
    return {"executable_path": CHROMIUM, "headless": True}


# pytest-playwright keeps Playwright for the whole session, and with it an asyncio loop that Django
# takes for an async context (its ORM then refuses to run): these tests' Playwright ends with them.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def browser(browser_type: BrowserType, browser_type_launch_args: dict) -> Iterator[Browser]:
    launched = browser_type.launch(**browser_type_launch_args)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """.data/browser/: this run's screenshots (an earlier run's are removed) and the platform's logs."""
    shutil.rmtree(ARTIFACTS / "screenshots", ignore_errors=True)
    for sub in ("screenshots/desktop", "screenshots/phone", "screenshots/flow", "logs"):
        (ARTIFACTS / sub).mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM (a warm shutdown for Celery), then SIGKILL the process group if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{name}"


def _admin_sql(statement: str) -> None:
    """CREATE or DROP DATABASE, from the server's maintenance database (outside a transaction)."""
    with psycopg.connect(_database_url("postgres"), autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture(scope="package")
def platform(artifacts, docker_client) -> Iterator[SimpleNamespace]:
    """The running platform: `url` (http://127.0.0.1:<port>), `env` (its environment), `logs`."""
    name = settings.DATABASES["default"]["NAME"]
    database = f"{name if name.startswith('test_') else f'test_{name}'}_browser"
    installation = f"browser-{uuid.uuid4().hex[:8]}"
    redis_port, web_port = _free_port(), _free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(database),
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_SETTINGS_MODULE": "chronoverse.settings",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CHRONOVERSE_INSTALLATION": installation,
        # The flow's jobs talk to loopback (make test sets this too).
        "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",
        "PYTHONUNBUFFERED": "1",
    }
    logs = artifacts / "logs"
    bin_dir = Path(sys.executable).parent
    commands = {
        "redis": [
            "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ],
        "web": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "chronoverse.asgi:application"],
        # One worker for both queues (make run has two): the tests run a handful of jobs.
        "worker": [
            str(bin_dir / "celery"), "-A", "chronoverse", "worker", "--pool=threads", "--concurrency=4",
            f"--queues=celery,{settings.CONTROL_QUEUE}", f"--hostname={installation}@%h", "--loglevel=INFO",
        ],
        "beat": [
            str(bin_dir / "celery"), "-A", "chronoverse", "beat", "--loglevel=INFO",
            f"--schedule={logs / 'celerybeat-schedule'}",
        ],
    }  # fmt: skip
    processes: dict[str, subprocess.Popen] = {}
    url = f"http://127.0.0.1:{web_port}"
    # A database left by an interrupted run goes first, as Django does with its test databases.
    _admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _admin_sql(f'CREATE DATABASE "{database}"')
    try:
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert migrated.returncode == 0, f"manage.py migrate failed: {migrated.stderr[-2000:]}"
        for program, command in commands.items():
            with open(logs / f"{program}.log", "w") as log:
                # A session of its own, so that the whole group can be stopped at the end.
                processes[program] = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            if program == "redis":
                wait_for(lambda: _pings(redis_url), timeout=10)
        try:
            wait_for(lambda: _answers(f"{url}/healthz", requests), timeout=60)
        except pytest.fail.Exception:
            pytest.fail(f"the platform did not come up; its server's log:\n{_tail(logs / 'web.log')}")
        yield SimpleNamespace(url=url, env=env, logs=logs, installation=installation, processes=processes)
        for program, process in processes.items():
            assert process.poll() is None, f"the platform's {program} died:\n{_tail(logs / f'{program}.log')}"
    finally:
        for program in ("beat", "web", "worker", "redis"):
            if program in processes:
                _stop(processes[program])
        _remove_leftovers(docker_client, installation)
        _admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _remove_leftovers(client, installation: str) -> None:
    """Whatever this installation left on the shared engine (a failed test's workflows)."""
    mine = {"label": f"{INSTALLATION_LABEL}={installation}"}
    for container in client.containers.list(all=True, filters=mine):
        container.remove(force=True)
    for image in client.images.list(filters=mine):
        client.images.remove(image.id, force=True)
    for network in client.networks.list(filters=mine):
        network.remove()


@pytest.fixture(scope="package")
def browser_context_args(platform) -> dict:
    """Every context pytest-playwright opens: the platform as base URL (page.goto("/workflows/")),
    a desktop window."""
    return {"base_url": platform.url, "viewport": {"width": 1280, "height": 900}}
