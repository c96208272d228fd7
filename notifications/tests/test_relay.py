"""The relay, end to end: a real ASGI server (daphne), a real Redis, a real WebSocket client.

These tests give the server a Redis of its own (conftest's `own_redis` and `server`), so that one
can be restarted mid-session.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import wait_for
from notifications.relay import PATTERNS
from notifications.services import notification_create

pytestmark = pytest.mark.django_db(transaction=True)


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
        wait_for(lambda: own_redis.numpat() == len(PATTERNS))

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
        # Three sockets, two users, one process: one Redis subscription (its patterns, once).
        assert own_redis.numpat() == len(PATTERNS)


def test_a_redis_restart_mid_session_is_survived(server, own_redis, user, make_token):
    with socket_for(server, make_token(user)[1]) as ws:
        wait_for(lambda: own_redis.numpat() == len(PATTERNS))

        own_redis.restart()
        wait_for(lambda: own_redis.numpat() == len(PATTERNS), timeout=30)
        notification = notification_create(user=user, kind="SYSTEM_ALERT", payload={"after": "restart"})

        assert json.loads(ws.recv(timeout=10))["id"] == str(notification.id)


def close_code(ws, *, within: float) -> int:
    """Read (and drop) messages until the server closes the socket; its close code."""
    deadline = time.monotonic() + within
    try:
        while True:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else -1


def closed_with(url: str, headers: dict[str, str]) -> int:
    """The close code of a socket the server accepts and then closes (a refused handshake fails)."""
    with connect(url, open_timeout=10, additional_headers=headers) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    return closed.value.rcvd.code


@pytest.mark.parametrize("path", ["/ws/notifications/", "/ws/jobs/00000000-0000-0000-0000-000000000000/logs/"])
def test_unauthenticated_sockets_are_closed_with_4401_with_or_without_an_origin(server, own_redis, path):
    # Non-browser clients send no Origin: they too get the contract's 4401, not an HTTP 403.
    for headers in ({"Origin": f"http://127.0.0.1:{server.port}"}, {}):
        for query in ("", "?token=cv_00000000_wrong"):
            assert closed_with(f"{server.ws}{path}{query}", headers) == 4401, (headers, query)


def test_the_dashboard_session_authenticates_a_same_origin_socket_only(server, own_redis, user, client):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    with connect(
        f"{server.ws}/ws/notifications/",
        open_timeout=10,
        additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{server.port}"},
    ) as ws:
        wait_for(lambda: own_redis.numpat() == len(PATTERNS))
        notification = notification_create(user=user, kind="WORKFLOW_CREATED", payload={})
        assert json.loads(ws.recv(timeout=5))["id"] == str(notification.id)

    # Another site's page (cross-site WebSocket hijacking), or a client with no Origin, rides on no session.
    assert closed_with(f"{server.ws}/ws/notifications/", {"Cookie": cookie, "Origin": "https://evil.example"}) == 4401
    assert closed_with(f"{server.ws}/ws/notifications/", {"Cookie": cookie}) == 4401


def test_revoking_a_token_closes_its_sockets_and_ends_its_stream_at_once(server, own_redis, user, make_token):
    from django.utils import timezone

    from accounts.services import token_revoke
    from jobs.models import Job
    from workflows import services as workflow_services

    token, secret = make_token(user)
    _, other = make_token(user)
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status="RUNNING")
    stream = requests.get(
        f"{server.http}/api/v1/jobs/{job.id}/events",
        headers={"Authorization": f"Bearer {secret}"},
        stream=True,
        timeout=10,
    )
    assert stream.status_code == 200
    lines = stream.iter_lines(decode_unicode=True)
    assert next(lines).startswith(":")
    with (
        socket_for(server, secret) as notifications,
        connect(f"{server.ws}/ws/jobs/{job.id}/logs/?token={secret}", open_timeout=10) as logs,
        socket_for(server, other) as unaffected,
    ):
        logs.recv(timeout=5)  # the job's status: the socket is live
        wait_for(lambda: own_redis.numpat() == len(PATTERNS))

        revoked_at = time.monotonic()
        token_revoke(user=user, token_id=token.pk)

        for ws in (notifications, logs):
            assert close_code(ws, within=5) == 4401
        assert time.monotonic() - revoked_at < 1.0
        list(lines)  # returns once the server ends the stream
        assert time.monotonic() - revoked_at < 2.0
        # A socket of another token of the same user is untouched.
        notification = notification_create(user=user, kind="SYSTEM_ALERT", payload={})
        assert json.loads(unaffected.recv(timeout=5))["id"] == str(notification.id)


def test_a_token_socket_is_closed_when_the_token_expires(server, own_redis, user, make_token):
    from datetime import timedelta

    from django.utils import timezone

    _, secret = make_token(user, expires_at=timezone.now() + timedelta(seconds=2))
    with socket_for(server, secret) as ws:
        opened = time.monotonic()
        assert close_code(ws, within=10) == 4401
        assert 0.5 < time.monotonic() - opened < 4


def test_a_socket_stays_open_and_live_past_redis_read_timeouts(server, own_redis, user, make_token):
    with socket_for(server, make_token(user)[1]) as ws:
        wait_for(lambda: own_redis.numpat() == len(PATTERNS))
        time.sleep(7)  # longer than the 5-second socket timeouts of the Redis clients

        notification = notification_create(user=user, kind="SYSTEM_ALERT", payload={})

        assert json.loads(ws.recv(timeout=5))["id"] == str(notification.id)


def test_a_token_revoked_while_redis_was_away_still_closes_its_socket(server, own_redis, user, make_token):
    from accounts.services import token_revoke

    token, secret = make_token(user)
    with socket_for(server, secret) as ws:
        wait_for(lambda: own_redis.numpat() == len(PATTERNS))
        own_redis.stop()

        token_revoke(user=user, token_id=token.pk)  # its announcement finds no Redis to go to
        own_redis.start()

        # The relay, back on Redis, asks the database about the tokens it watches.
        assert close_code(ws, within=15) == 4401
