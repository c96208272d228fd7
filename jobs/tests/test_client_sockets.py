"""Client sockets end to end: a real ASGI server (daphne) on its own Redis, real WebSocket clients.

The test process plays the scheduler and workers (it starts jobs, so it publishes to the same
Redis); the server holds the sockets. See docs/client-sockets.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection as Socket
from websockets.sync.client import connect

from conftest import wait_for
from jobs import clients, services, tasks
from jobs.models import CLIENT_WORKER, ClientConnection, ClientDelivery, Job, JobStatus
from notifications.models import Notification
from workflows import services as workflow_services
from workflows.models import TerminationReason, Workflow

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "client-sockets.md"


@pytest.fixture(autouse=True)
def no_traceback(server) -> Iterator[None]:
    """Whatever a client sends, the server answers it: nothing ends in a traceback."""
    yield
    assert "Traceback" not in server.log.read_text()


def websocket_workflow(
    user, *, client_name: str = "agent", tags: list[str] | None = None, metadata: dict | None = None, **payload
) -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={
            "name": f"deliver to {client_name}",
            "kind": "WEBSOCKET",
            "payload": {"client_name": client_name, **payload},
            "interval": 60,
            "tags": tags or [],
            "metadata": metadata or {},
        },
    )
    return workflow


def run_now(workflow: Workflow) -> Job:
    """A manual run: dispatched when it commits, here, as the API's would be."""
    job = services.job_run_manually(workflow=workflow, user=workflow.user)
    job.refresh_from_db()
    return job


@contextmanager
def opened(server, hello: dict | str | bytes, *, query: str = "") -> Iterator[Socket]:
    """A socket to /ws/clients/ that has sent its first message."""
    with connect(f"{server.ws}/ws/clients/{query}", open_timeout=10) as ws:
        ws.send(hello if isinstance(hello, str | bytes) else json.dumps(hello))
        yield ws


@contextmanager
def hook(server, secret: str, client_name: str = "agent") -> Iterator[Socket]:
    with opened(server, {"type": "client-hook", "client_name": client_name, "token": secret}) as ws:
        assert receive(ws) == {"type": "ready"}
        yield ws


@contextmanager
def listener(server, secret: str, tags: list[str]) -> Iterator[Socket]:
    with opened(server, {"type": "tag-listener", "tags": tags, "token": secret}) as ws:
        assert receive(ws) == {"type": "ready"}
        yield ws


def refused(server, hello: dict | str | bytes, *, query: str = "") -> tuple[int, list[dict]]:
    """The close code of a socket refused after its first message, and the messages it got first."""
    with opened(server, hello, query=query) as ws:
        return closed_with(ws)


def receive(ws: Socket, timeout: float = 10) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def nothing_arrives(ws: Socket, within: float = 1.0) -> bool:
    try:
        ws.recv(timeout=within)
    except TimeoutError:
        return True
    return False


def ack(ws: Socket, job: Job) -> None:
    ws.send(json.dumps({"type": "ack", "job_id": str(job.id)}))


def status_of(job: Job) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job.pk)


def closed_with(ws: Socket, within: float = 10) -> tuple[int, list[dict]]:
    """The close code of a socket the server closes, and the messages it sent first."""
    messages: list[dict] = []
    with pytest.raises(ConnectionClosed) as closed:
        read_all(ws, into=messages, deadline=time.monotonic() + within)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code, messages


def read_all(ws: Socket, *, into: list[dict], deadline: float) -> None:
    while True:
        into.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))


def test_the_event_reaches_every_client_of_the_name_and_the_first_ack_completes_the_job(server, user, make_token):
    secret = make_token(user)[1]
    workflow = websocket_workflow(
        user, message={"run": "backup"}, tags=["nightly"], metadata={"team": "ops", "runbook": {"page": 7}}
    )
    with hook(server, secret) as first, hook(server, secret) as second, hook(server, secret, "other") as other:
        job = run_now(workflow)

        event = receive(first)
        assert event == {
            "type": "event",
            "job_id": str(job.id),
            "workflow_id": str(workflow.id),
            "workflow_name": workflow.name,
            "scheduled_at": event["scheduled_at"],
            "trigger": "MANUAL",
            "message": {"run": "backup"},
            "metadata": {"team": "ops", "runbook": {"page": 7}},
            "tags": ["nightly"],
        }
        assert receive(second) == event
        assert nothing_arrives(other)
        assert status_of(job) == JobStatus.RUNNING

        ack(first, job)
        wait_for(lambda: status_of(job) == JobStatus.COMPLETED, timeout=10)
        completed_at = Job.objects.get(pk=job.pk).completed_at
        ack(second, job)  # a second ack of the same job changes nothing
        ack(first, job)
        assert nothing_arrives(second)

    job = Job.objects.get(pk=job.pk)
    assert (job.status, job.completed_at, job.error) == (JobStatus.COMPLETED, completed_at, "")
    delivery = ClientDelivery.objects.get(job=job)
    assert delivery.client_name == "agent"
    assert delivery.sent_count == 2
    assert re.fullmatch(r"agent from 127\.0\.0\.1 \(connection [0-9a-f]{8}\)", delivery.acked_by)
    assert delivery.acked_at == job.completed_at
    kinds = set(Notification.objects.filter(payload__job_id=str(job.id)).values_list("kind", flat=True))
    assert kinds == {"JOB_STARTED", "JOB_COMPLETED"}


def test_no_ack_within_the_timeout_fails_the_job_and_counts_toward_the_threshold(server, user, make_token):
    workflow = websocket_workflow(user, ack_timeout=1)
    Workflow.objects.filter(pk=workflow.pk).update(max_consecutive_job_failures_allowed=1)
    with hook(server, make_token(user)[1]) as ws:
        job = run_now(workflow)
        assert receive(ws)["job_id"] == str(job.id)
        assert job.worker == CLIENT_WORKER
        assert job.lease_expires_at == job.started_at + timedelta(seconds=1)
        assert clients.client_deliveries_expire(now=job.lease_expires_at - timedelta(milliseconds=1)) == 0

        # The scheduler's tick fails it once the deadline passed.
        wait_for(lambda: tasks.scheduler_tick() is not None and status_of(job) == JobStatus.FAILED, timeout=10)
        ack(ws, job)  # too late: ignored
        assert nothing_arrives(ws)

    job = Job.objects.get(pk=job.pk)
    assert (job.status, job.error) == (JobStatus.FAILED, "no acknowledgement within 1 s")
    assert ClientDelivery.objects.get(job=job).acked_at is None
    workflow.refresh_from_db()
    assert workflow.consecutive_job_failures_count == 1
    assert workflow.termination_reason == TerminationReason.CONSECUTIVE_FAILURES
    assert Notification.objects.filter(kind="JOB_FAILED", payload__job_id=str(job.id)).exists()


def test_an_event_due_while_no_client_is_connected_goes_to_the_first_that_connects(server, user, make_token):
    workflow = websocket_workflow(user, client_name="late-agent", message="hello")
    job = run_now(workflow)
    assert status_of(job) == JobStatus.RUNNING

    with hook(server, make_token(user)[1], "late-agent") as ws:
        event = receive(ws)
        assert (event["job_id"], event["message"]) == (str(job.id), "hello")
        ack(ws, job)
        wait_for(lambda: status_of(job) == JobStatus.COMPLETED, timeout=10)

    assert ClientDelivery.objects.get(job=job).sent_count == 1


def test_a_client_that_reconnects_receives_the_unacknowledged_event_again(server, user, make_token):
    secret = make_token(user)[1]
    workflow = websocket_workflow(user)
    with hook(server, secret) as ws:
        job = run_now(workflow)
        assert receive(ws)["job_id"] == str(job.id)
    # Gone without acking (a crash, a dropped network): the job still waits for its ack.
    assert status_of(job) == JobStatus.RUNNING

    with hook(server, secret) as ws:
        assert receive(ws)["job_id"] == str(job.id)
        ack(ws, job)
        wait_for(lambda: status_of(job) == JobStatus.COMPLETED, timeout=10)

    with hook(server, secret) as ws:
        assert nothing_arrives(ws)  # acknowledged: never sent again
    assert ClientDelivery.objects.get(job=job).sent_count == 2


def test_tag_listeners_receive_the_status_changes_of_jobs_of_workflows_with_their_tags(
    server, user, make_user, make_token
):
    stranger = make_user()
    tagged, _ = workflow_services.workflow_create(
        user=user, data={"name": "tick", "kind": "HEARTBEAT", "payload": {}, "interval": 5, "tags": ["billing", "eu"]}
    )
    untagged, _ = workflow_services.workflow_create(
        user=user, data={"name": "quiet", "kind": "HEARTBEAT", "payload": {}, "interval": 5, "tags": ["other"]}
    )
    strangers, _ = workflow_services.workflow_create(
        user=stranger, data={"name": "theirs", "kind": "HEARTBEAT", "payload": {}, "interval": 5, "tags": ["billing"]}
    )
    with (
        listener(server, make_token(user)[1], ["billing", "urgent"]) as mine,
        listener(server, make_token(stranger)[1], ["eu"]) as theirs,
    ):
        quiet_job = run_now(untagged)
        job = run_now(tagged)
        queued = receive(mine)
        assert queued == {
            "type": "job",
            "job": queued["job"],
            "workflow_name": "tick",
            "tags": ["billing", "eu"],
        }
        assert (queued["job"]["id"], queued["job"]["status"]) == (str(job.id), "QUEUED")

        services.heartbeats_complete(job_ids=[quiet_job.pk, job.pk])  # what a worker does with them
        done = receive(mine)
        assert (done["job"]["id"], done["job"]["status"]) == (str(job.id), "COMPLETED")
        assert done["job"]["completed_at"] is not None

        run_now(strangers)  # another user's job with a tag both listeners have: neither hears it
        assert nothing_arrives(mine)
        assert nothing_arrives(theirs, within=0.1)

        ack(mine, job)
        refused = receive(mine)
        assert (refused["type"], refused["code"]) == ("error", "ack_not_allowed")
        assert refused["message"]
    assert status_of(quiet_job) == JobStatus.COMPLETED


def test_a_websocket_jobs_waiting_and_ack_reach_its_tag_listeners(server, user, make_token):
    secret = make_token(user)[1]
    workflow = websocket_workflow(user, tags=["agents"])
    with listener(server, secret, ["agents"]) as watcher, hook(server, secret) as agent:
        job = run_now(workflow)
        running = receive(watcher)["job"]
        assert (running["id"], running["status"]) == (str(job.id), "RUNNING")
        assert receive(agent)["job_id"] == str(job.id)
        ack(agent, job)
        assert receive(watcher)["job"]["status"] == "COMPLETED"


def test_a_socket_never_sees_another_users_events_nor_acks_their_jobs(server, user, make_user, make_token):
    stranger = make_user()
    workflow = websocket_workflow(user)
    with hook(server, make_token(user)[1]) as mine, hook(server, make_token(stranger)[1]) as theirs:
        job = run_now(workflow)
        assert receive(mine)["job_id"] == str(job.id)
        assert nothing_arrives(theirs)

        ack(theirs, job)  # a job id learnt elsewhere: not theirs to complete
        assert nothing_arrives(theirs)
        assert status_of(job) == JobStatus.RUNNING
    # Nor is another user's waiting job sent to a socket connecting later.
    with hook(server, make_token(stranger)[1]) as theirs:
        assert nothing_arrives(theirs)


def test_an_ack_is_only_taken_from_a_client_of_the_jobs_name(server, user, make_token):
    secret = make_token(user)[1]
    with hook(server, secret, "agent") as named, hook(server, secret, "other") as other:
        job = run_now(websocket_workflow(user))
        receive(named)
        ack(other, job)
        assert nothing_arrives(other)
        assert status_of(job) == JobStatus.RUNNING


@pytest.mark.parametrize(
    "first",
    [
        "not json",
        "[]",
        '"client-hook"',
        {"type": "nope", "client_name": "agent"},
        {"client_name": "agent"},
        {"type": "client-hook"},
        {"type": "client-hook", "client_name": "Agent"},
        {"type": "client-hook", "client_name": "x" * 65},
        {"type": "client-hook", "client_name": 5},
        {"type": "client-hook", "client_name": "agent", "tags": ["a"]},
        {"type": "tag-listener"},
        {"type": "tag-listener", "tags": []},
        {"type": "tag-listener", "tags": "billing"},
        {"type": "tag-listener", "tags": ["Billing"]},
        {"type": "tag-listener", "tags": [f"t{n}" for n in range(21)]},
        {"type": "ack", "job_id": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_a_malformed_first_message_closes_the_socket_with_4400(server, user, make_token, first):
    secret = make_token(user)[1]
    if isinstance(first, dict):
        first = {**first, "token": secret}

    code, messages = refused(server, first, query=f"?token={secret}")

    assert code == 4400
    assert [m["code"] for m in messages] == ["invalid_argument"]
    assert messages[0]["message"]


def test_a_binary_first_message_closes_the_socket_with_4400(server, user, make_token):
    assert refused(server, b"\x00\x01", query=f"?token={make_token(user)[1]}")[0] == 4400


@pytest.mark.server_env(CLIENT_SOCKET_HANDSHAKE_SECONDS="0.5")
def test_a_socket_that_says_nothing_is_closed_with_4400(server, user, make_token):
    with connect(f"{server.ws}/ws/clients/?token={make_token(user)[1]}", open_timeout=10) as ws:
        assert closed_with(ws)[0] == 4400


def test_a_bad_or_missing_token_closes_the_socket_with_4401(server, user, make_token):
    from accounts.services import token_revoke

    revoked_token, revoked = make_token(user)
    token_revoke(user=user, token_id=revoked_token.pk)
    expired = make_token(user, expires_at=timezone.now() + timedelta(milliseconds=200))[1]
    time.sleep(0.3)
    hook_hello = {"type": "client-hook", "client_name": "agent"}
    cases = [
        (hook_hello, ""),
        ({**hook_hello, "token": "cv_00000000_wrong"}, ""),
        ({**hook_hello, "token": 12345}, ""),
        ({**hook_hello, "token": revoked}, ""),
        ({**hook_hello, "token": expired}, ""),
        (hook_hello, "?token=cv_00000000_wrong"),
        ({"type": "tag-listener", "tags": ["a"]}, ""),
        ({"type": "tag-listener", "tags": ["a"], "token": revoked}, f"?token={make_token(user)[1]}"),
    ]
    for hello, query in cases:
        code, messages = refused(server, hello, query=query)
        assert code == 4401, (hello, query)
        assert [m["code"] for m in messages] == ["unauthenticated"]


def test_the_token_may_be_given_as_a_query_parameter_and_a_read_only_token_only_listens(server, user, make_token):
    secret = make_token(user)[1]
    read_only = make_token(user, scopes=("read",))[1]
    with opened(server, {"type": "client-hook", "client_name": "agent"}, query=f"?token={secret}") as ws:
        assert receive(ws) == {"type": "ready"}
        job = run_now(websocket_workflow(user))
        assert receive(ws)["job_id"] == str(job.id)

    for query, hello in (
        (f"?token={read_only}", {"type": "client-hook", "client_name": "agent"}),
        ("", {"type": "client-hook", "client_name": "agent", "token": read_only}),
    ):
        code, messages = refused(server, hello, query=query)
        assert (code, [m["code"] for m in messages]) == (4403, ["permission_denied"])
    with opened(server, {"type": "tag-listener", "tags": ["a"]}, query=f"?token={read_only}") as ws:
        assert receive(ws) == {"type": "ready"}


def test_messages_other_than_acks_are_answered_with_an_error_and_the_socket_stays(server, user, make_token):
    with hook(server, make_token(user)[1]) as ws:
        for text in ("not json", "[]", json.dumps({"type": "hello"}), json.dumps({"type": "ack", "job_id": "x"})):
            ws.send(text)
            assert receive(ws)["code"] == "invalid_argument"
        job = run_now(websocket_workflow(user))
        assert receive(ws)["job_id"] == str(job.id)


def test_revoking_the_token_closes_the_client_socket(server, user, make_token):
    from accounts.services import token_revoke

    token, secret = make_token(user)
    with hook(server, secret) as ws:
        token_revoke(user=user, token_id=token.pk)
        assert closed_with(ws)[0] == 4401


# Periodic reads only after 10 minutes: it is the relay's return to Redis that catches up here.
@pytest.mark.server_env(CLIENT_SOCKET_REFRESH_SECONDS="600")
def test_a_redis_restart_during_a_pending_delivery_loses_nothing(server, own_redis, user, make_token):
    workflow = websocket_workflow(user, ack_timeout=120)
    with hook(server, make_token(user)[1]) as ws:
        own_redis.stop()
        # The job starts while Redis is down: its wake-up cannot be published, and is lost.
        job = run_now(workflow)
        assert status_of(job) == JobStatus.RUNNING
        assert nothing_arrives(ws)

        own_redis.start()
        # The server's relay gets back on Redis and the socket reads the waiting job from Postgres.
        assert receive(ws, timeout=30)["job_id"] == str(job.id)

        own_redis.stop()  # acknowledging needs no Redis either
        ack(ws, job)
        wait_for(lambda: status_of(job) == JobStatus.COMPLETED, timeout=10)
        own_redis.start()


@pytest.mark.server_env(CLIENT_SOCKET_REFRESH_SECONDS="0.5")
def test_a_lost_wake_up_is_made_up_for_by_the_next_periodic_read(server, user, make_token, monkeypatch):
    from jobs import client_events

    with hook(server, make_token(user)[1]) as ws:
        # As if the process that started the job died between its commit and its publish.
        monkeypatch.setattr(client_events, "publish", lambda outgoing: None)
        job = run_now(websocket_workflow(user))

        assert receive(ws)["job_id"] == str(job.id)


def test_connected_clients_are_recorded_while_they_are_connected(server, user, make_token):
    with hook(server, make_token(user)[1], "agent"):
        connection = ClientConnection.objects.get(user=user)
        assert (connection.client_name, connection.remote_addr) == ("agent", "127.0.0.1")
        assert timezone.now() - connection.connected_at < timedelta(minutes=1)
    wait_for(lambda: not ClientConnection.objects.exists(), timeout=10)


def test_a_web_process_crash_mid_job_loses_nothing(server, user, make_token, tmp_path):
    workflow = websocket_workflow(user, client_name="backup-agent", ack_timeout=120)
    with run_agent(server, make_token(user)[1], tmp_path) as output:
        first = run_now(workflow)
        wait_for(lambda: status_of(first) == JobStatus.COMPLETED, timeout=30)

        server.crash()  # the agent's socket drops; no disconnect runs on the server
        second = run_now(workflow)  # due while no web process is up at all
        assert status_of(second) == JobStatus.RUNNING
        server.start()

        # The agent reconnects by itself and is sent the waiting job, from Postgres.
        wait_for(lambda: status_of(second) == JobStatus.COMPLETED, timeout=30)
    assert len(output.read_text().splitlines()) == 2
    # The crashed process's presence row is left behind, to go stale and be swept; the live one's
    # socket, closed by the agent's end, took its row along.
    wait_for(lambda: ClientConnection.objects.filter(user=user).count() == 1, timeout=10)


def example_from_docs() -> str:
    text = DOCS.read_text()
    marker = text.index("<!-- client-example -->")
    return re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)


@contextmanager
def run_agent(server, secret: str, tmp_path: Path) -> Iterator[Path]:
    """The agent of docs/client-sockets.md, exactly as written there, running as backup-agent;
    yields the file that collects its output."""
    script = tmp_path / "agent.py"
    script.write_text(example_from_docs())
    output = tmp_path / "agent.log"
    with open(output, "w") as log:
        agent = subprocess.Popen(
            [sys.executable, str(script)],
            env={"CHRONOVERSE_WS": server.ws, "CHRONOVERSE_TOKEN": secret, "CLIENT_NAME": "backup-agent"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield output
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def test_the_documented_python_agent_receives_and_acknowledges(server, user, make_token, tmp_path):
    workflow = websocket_workflow(user, client_name="backup-agent", message={"paths": ["/srv"]})
    job = run_now(workflow)  # due before the agent even runs
    with run_agent(server, make_token(user)[1], tmp_path) as output:
        wait_for(lambda: status_of(job) == JobStatus.COMPLETED, timeout=30)
        second = run_now(workflow)
        wait_for(lambda: status_of(second) == JobStatus.COMPLETED, timeout=30)

    lines = output.read_text().splitlines()
    assert lines == [f'{workflow.name} at {json_time(j)}: {{"paths": ["/srv"]}}' for j in (job, second)]


def json_time(job: Job) -> str:
    from chronoverse.serializers import format_timestamp

    return format_timestamp(job.scheduled_at) or ""
