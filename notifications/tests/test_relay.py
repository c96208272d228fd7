"""The relay, end to end: a real ASGI server (daphne), a real Redis, a real WebSocket client.

These tests give the server a Redis of its own, so that one can be restarted mid-session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
import redis
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from conftest import _answers, _free_port, _test_database_env, wait_for
from notifications.services import notification_create

pytestmark = pytest.mark.django_db(transaction=True)


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

    def restart() -> None:
        handle.process.terminate()
        handle.process.wait(timeout=10)
        handle.process = start()

    handle.restart = restart
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
def server(own_redis, settings):
    """Daphne on the test database and on `own_redis`; this process publishes to the same Redis."""
    settings.REDIS_URL = own_redis.url
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chronoverse.asgi:application"],
        env={**_test_database_env(), "REDIS_URL": own_redis.url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz", requests), timeout=30)
    yield SimpleNamespace(ws=f"ws://127.0.0.1:{port}", http=f"http://127.0.0.1:{port}", port=port)
    process.terminate()
    process.wait(timeout=10)


def socket_for(server, secret: str):
    return connect(f"{server.ws}/ws/notifications/?token={secret}", open_timeout=10)


def nothing_arrives(ws, within: float = 1.0) -> bool:
    try:
        ws.recv(timeout=within)
    except TimeoutError:
        return True
    return False


def test_a_notification_from_another_process_reaches_only_its_users_sockets(
    server, own_redis, user, make_user, make_token
):
    stranger = make_user()
    with (
        socket_for(server, make_token(user)[1]) as mine,
        socket_for(server, make_token(user)[1]) as mine_too,
        socket_for(server, make_token(stranger)[1]) as theirs,
    ):
        wait_for(lambda: own_redis.numpat() == 1)

        notification = notification_create(user=user, kind="JOB_FAILED", payload={"error": "boom"})

        message = json.loads(mine.recv(timeout=5))
        assert message == {
            "id": str(notification.id),
            "kind": "JOB_FAILED",
            "payload": {"error": "boom"},
            "created_at": message["created_at"],
        }
        assert json.loads(mine_too.recv(timeout=5))["id"] == str(notification.id)
        assert nothing_arrives(theirs)
        # Three sockets, two users, one process: one Redis subscription.
        assert own_redis.numpat() == 1


def test_a_redis_restart_mid_session_is_survived(server, own_redis, user, make_token):
    with socket_for(server, make_token(user)[1]) as ws:
        wait_for(lambda: own_redis.numpat() == 1)

        own_redis.restart()
        wait_for(lambda: own_redis.numpat() == 1, timeout=30)
        notification = notification_create(user=user, kind="SYSTEM_ALERT", payload={"after": "restart"})

        assert json.loads(ws.recv(timeout=10))["id"] == str(notification.id)


def test_unauthenticated_sockets_are_closed_with_4401(server, own_redis):
    for query in ("", "?token=cv_00000000_wrong"):
        headers = {"Origin": f"http://127.0.0.1:{server.port}"}
        with (
            connect(f"{server.ws}/ws/notifications/{query}", open_timeout=10, additional_headers=headers) as ws,
            pytest.raises(ConnectionClosed) as closed,
        ):
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4401


def test_the_dashboard_session_authenticates_a_same_origin_socket_only(server, own_redis, user, client):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    with connect(
        f"{server.ws}/ws/notifications/",
        open_timeout=10,
        additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{server.port}"},
    ) as ws:
        wait_for(lambda: own_redis.numpat() == 1)
        notification = notification_create(user=user, kind="WORKFLOW_CREATED", payload={})
        assert json.loads(ws.recv(timeout=5))["id"] == str(notification.id)

    with pytest.raises(InvalidStatus):
        connect(
            f"{server.ws}/ws/notifications/",
            open_timeout=10,
            additional_headers={"Cookie": cookie, "Origin": "https://evil.example"},
        )


def test_a_socket_stays_open_and_live_past_redis_read_timeouts(server, own_redis, user, make_token):
    import time

    with socket_for(server, make_token(user)[1]) as ws:
        wait_for(lambda: own_redis.numpat() == 1)
        time.sleep(7)  # longer than the 5-second socket timeouts of the Redis clients

        notification = notification_create(user=user, kind="SYSTEM_ALERT", payload={})

        assert json.loads(ws.recv(timeout=5))["id"] == str(notification.id)
