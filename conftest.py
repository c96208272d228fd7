"""Fixtures shared by every app's tests. Everything here talks to the real services `make test`
provisions: PostgreSQL, Redis and the Docker engine. A missing service fails the tests that need
it; nothing is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import docker
import pytest
import redis
import requests
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import ApiToken, User
from accounts.services import token_create
from chronoverse.redis_client import get_redis

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    """Each test starts with empty rate-limit counters and pub/sub state (test Redis database only)."""
    client = get_redis()
    db = client.connection_pool.connection_kwargs.get("db", 0)
    assert db != 0 or os.environ.get("CHRONOVERSE_TEST_REDIS_DB0") == "1", (
        "Tests flush their Redis database: run them with `make test` (REDIS_URL on database 1), "
        "not against database 0 that `make run` uses."
    )
    client.flushdb()


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    counter = iter(range(1, 10**6))

    def make(email: str | None = None, password: str = PASSWORD, **extra) -> User:
        return User.objects.create_user(email=email or f"user{next(counter)}@example.com", password=password, **extra)

    return make


@pytest.fixture
def user(make_user) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def make_token() -> Callable[..., tuple[ApiToken, str]]:
    def make(
        user: User, scopes: tuple[str, ...] = ("read", "write"), expires_at: datetime | None = None, name: str = "test"
    ) -> tuple[ApiToken, str]:
        return token_create(user=user, name=name, scopes=list(scopes), expires_at=expires_at)

    return make


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def auth_api(user, make_token) -> APIClient:
    """An API client presenting a read/write bearer token of `user`."""
    _, secret = make_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[None]:
    """A real Celery worker (in a thread) consuming the test Redis broker, on the test database."""
    from celery.contrib.testing.worker import start_worker

    from chronoverse.celery import app

    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=60, queues=["celery", settings.CONTROL_QUEUE]
    ):
        yield


def wait_for(condition: Callable[[], object], *, timeout: float = 60, interval: float = 0.1):
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=settings.DOCKER_HOST, timeout=60)
    try:
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"The Docker engine is not reachable ({exc}); `make test` starts it.")
    yield client
    client.close()


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory, docker_client) -> Iterator[dict]:
    """A real image registry on loopback (Debian's docker-registry) holding one busybox image.

    The engine trusts 127.0.0.0/8 registries without TLS, so pulls go through the normal path.
    Yields the image reference and the registry's log file.
    """
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = tmp_path_factory.mktemp("registry")
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "log:\n  level: info\n  accesslog:\n    disabled: false\n"
    )
    log_path = root / "registry.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/v2/", requests), timeout=30)
        ref = f"127.0.0.1:{port}/chronoverse-test/busybox:1"
        docker_client.images.get("chronoverse/busybox:latest").tag(ref)
        for line in docker_client.images.push(ref, stream=True, decode=True):
            assert "error" not in line, line
        docker_client.images.remove(ref)
        yield {"image": ref, "log": log_path, "port": port}
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str, requests) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _test_database_env() -> dict[str, str]:
    """Environment for a child process (server, worker) that must use the test database."""
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_SETTINGS_MODULE": "chronoverse.settings",
    }
    return env


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The real ASGI server (daphne) on loopback, serving the test database."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chronoverse.asgi:application"],
        env=_test_database_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{url}/healthz", requests), timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Recorder:
    def __init__(self, statuses: list[int]):
        self.statuses = statuses
        self.requests: list[dict] = []


@pytest.fixture
def http_server():
    """A local HTTP server answering with the statuses a test queues up (then 200)."""
    recorder = Recorder([])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            )
            status = recorder.statuses.pop(0) if recorder.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(f"answered {status}".encode())

        do_GET = do_POST = do_PUT = do_HEAD = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield recorder
    server.shutdown()


@pytest.fixture
def own_redis():
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _pings(url), timeout=10)
        return process

    handle = SimpleNamespace(url=url, process=start())

    def stop() -> None:
        handle.process.terminate()
        handle.process.wait(timeout=10)

    def restart() -> None:
        stop()
        handle.process = start()

    handle.stop, handle.restart = stop, restart
    handle.start = lambda: setattr(handle, "process", start())
    handle.numpat = lambda: redis.Redis.from_url(url).pubsub_numpat()
    yield handle
    handle.process.terminate()
    handle.process.wait(timeout=10)


def _pings(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def server(own_redis, settings, request, tmp_path):
    """Daphne on the test database and on `own_redis`; this process publishes to the same Redis.
    A test may set more of the server's environment: `@pytest.mark.server_env(NAME="value")`.
    Its output is kept in `log` (a path) for a test to read."""
    settings.REDIS_URL = own_redis.url
    marker = request.node.get_closest_marker("server_env")
    port = _free_port()
    log_path = tmp_path / "server.log"
    env = {**_test_database_env(), "REDIS_URL": own_redis.url, **(marker.kwargs if marker else {})}

    def start() -> subprocess.Popen:
        with open(log_path, "a") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chronoverse.asgi:application"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz", requests), timeout=30)
        return process

    handle = SimpleNamespace(
        ws=f"ws://127.0.0.1:{port}", http=f"http://127.0.0.1:{port}", port=port, log=log_path, process=start()
    )

    def crash() -> None:
        """SIGKILL, as the OOM killer would: nothing of the process runs after it."""
        handle.process.kill()
        handle.process.wait(timeout=10)

    handle.crash = crash
    handle.start = lambda: setattr(handle, "process", start())
    yield handle
    handle.process.terminate()
    handle.process.wait(timeout=10)
