"""The dashboard's WebSocket for job logs, through the real ASGI application and Redis."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from chronoverse.asgi import application
from jobs.logs import LogWriter
from jobs.models import Job, JobStatus
from jobs.outcome import Outcome
from jobs.services import job_finish
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)


def make_job(user, status=JobStatus.RUNNING) -> Job:
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    return Job.objects.create(
        workflow=workflow, user=user, scheduled_at=timezone.now(), status=status, started_at=timezone.now()
    )


def test_a_token_socket_replays_then_follows_live_until_the_end(user, make_token):
    _, secret = make_token(user)
    job = make_job(user)
    writer = LogWriter(job.pk)
    writer.write("stdout", "stored before connecting")
    writer.flush()

    async def scenario() -> list[dict]:
        communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.pk}/logs/?token={secret}")
        connected, _ = await communicator.connect()
        assert connected
        received = [await communicator.receive_json_from(timeout=10) for _ in range(2)]  # stored line + status

        def more_output() -> None:
            writer.write("stderr", "written while connected")
            writer.close()
            job.refresh_from_db()
            job_finish(job=job, outcome=Outcome(True, exit_code=0))

        from asgiref.sync import sync_to_async

        await sync_to_async(more_output)()
        while not received or received[-1]["event"] != "end":
            received.append(await communicator.receive_json_from(timeout=10))
        await communicator.disconnect()
        return received

    messages = async_to_sync(scenario)()

    logs = [(m["data"]["stream"], m["data"]["message"]) for m in messages if m["event"] == "log"]
    assert logs == [("stdout", "stored before connecting"), ("stderr", "written while connected")]
    assert messages[1] == {"event": "status", "data": messages[1]["data"]}
    assert messages[1]["data"]["status"] == "RUNNING"
    assert messages[-1]["event"] == "end"
    assert messages[-1]["data"]["status"] == "COMPLETED"


@pytest.mark.parametrize("who", ["nobody", "bad-token", "stranger"])
def test_sockets_that_may_not_see_the_job_are_closed(user, make_user, make_token, who):
    job = make_job(user)
    query = {"nobody": "", "bad-token": "?token=cv_nope_nope", "stranger": f"?token={make_token(make_user())[1]}"}[who]

    async def scenario():
        communicator = WebsocketCommunicator(
            application,
            f"/ws/jobs/{job.pk}/logs/{query}",
            headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")],
        )
        connected, _ = await communicator.connect()
        closed = await communicator.receive_output(timeout=10)
        await communicator.wait()
        return connected, closed

    connected, closed = async_to_sync(scenario)()

    assert connected
    assert closed["type"] == "websocket.close"
    assert closed["code"] == (4404 if who == "stranger" else 4401)
