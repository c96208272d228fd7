"""Fixtures shared by every app's tests. Everything here talks to the real services `make test`
provisions: PostgreSQL, Redis and the Docker engine. A missing service fails the tests that need
it; nothing is skipped."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import docker
import pytest
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

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=60):
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
