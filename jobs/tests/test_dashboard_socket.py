"""The dashboard's one socket (/ws/dashboard/), through the real ASGI application, relay and Redis:
who may open it, what it carries (job and workflow changes, notifications marked for toasting as
the preference says, a followed job's log), and that nothing of another user's ever arrives."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from chronoverse.asgi import application
from jobs import services as job_services
from jobs.logs import LogWriter
from jobs.models import Job, JobStatus
from jobs.outcome import Outcome
from notifications.services import notification_create
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


def heartbeat(user, name: str = "hb"):
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={"name": name, "kind": "HEARTBEAT", "payload": {"endpoint": "https://example.com"}, "interval": 5},
    )
    return workflow


async def opened(path: str, headers=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    assert await communicator.receive_json_from(timeout=10) == {"type": "ready"}
    return communicator


async def drain(communicator: WebsocketCommunicator, within: float = 1.0) -> list[dict]:
    """Every message that arrives until none has for `within` seconds."""
    messages = []
    # receive_nothing, not a timed-out receive: the communicator cancels the application on a timeout.
    while not await communicator.receive_nothing(timeout=within):
        messages.append(await communicator.receive_json_from())
    return messages


async def until(communicator: WebsocketCommunicator, found, timeout: float = 10.0) -> list[dict]:
    """Messages up to the first for which `found(message)` holds (the test fails without one)."""
    messages = []
    async with asyncio.timeout(timeout):
        while not messages or not found(messages[-1]):
            messages.append(await communicator.receive_json_from(timeout=timeout))
    return messages


@pytest.mark.parametrize("how", ["nothing", "bad-token", "session-from-another-site"])
def test_a_socket_without_a_user_is_closed_with_4401(client, user, how):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    path, headers = {
        "nothing": ("/ws/dashboard/", ORIGIN),
        "bad-token": ("/ws/dashboard/?token=cv_nope_nope", []),
        "session-from-another-site": ("/ws/dashboard/", [(b"origin", b"https://evil.example"), (b"cookie", cookie)]),
    }[how]

    async def scenario():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        closed = await communicator.receive_output(timeout=10)
        await communicator.wait()
        return connected, closed

    connected, closed = async_to_sync(scenario)()

    assert connected
    assert closed == {"type": "websocket.close", "code": 4401}


def test_the_session_socket_receives_the_users_job_and_workflow_changes(client, user):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        mine = await opened("/ws/dashboard/", [*ORIGIN, (b"cookie", cookie)])
        workflow = await sync_to_async(heartbeat)(user, "nightly")
        job = await sync_to_async(job_services.job_run_manually)(workflow=workflow, user=user)
        queued = await until(mine, lambda m: m["type"] == "job")

        def finish() -> None:
            claimed = job_services.job_claim(job_id=job.pk, worker="test")
            job_services.job_finish(job=claimed, outcome=Outcome(False, "boom", 3), worker="test")

        await sync_to_async(finish)()
        finished = await until(mine, lambda m: m["type"] == "job" and m["job"]["status"] == "FAILED")
        failures = await until(
            mine, lambda m: m["type"] == "workflow" and m["workflow"]["consecutive_job_failures_count"]
        )
        await mine.disconnect()
        return workflow, job, queued, finished, failures

    workflow, job, queued, finished, failures = async_to_sync(scenario)()

    created = next(m for m in queued if m["type"] == "workflow")
    assert created["workflow"] | {"next_run_at": None} == {
        "id": str(workflow.id),
        "name": "nightly",
        "kind": "HEARTBEAT",
        "state": "active",
        "build_status": "COMPLETED",
        "next_run_at": None,
        "paused_at": None,
        "terminated_at": None,
        "termination_reason": None,
        "consecutive_job_failures_count": 0,
        "max_consecutive_job_failures_allowed": 3,
    }
    # The API's Job resource, as it stood, and the workflow's name.
    assert set(queued[-1]["job"]) == {*job_services.job_status_data(job), "workflow_name"}
    assert queued[-1]["job"] | {"updated_at": None} == {
        **job_services.job_status_data(job),
        "status": "QUEUED",
        "workflow_name": "nightly",
        "updated_at": None,
    }
    statuses = [m["job"]["status"] for m in finished if m["type"] == "job"]
    assert statuses == ["RUNNING", "FAILED"]
    assert finished[-1]["job"]["error"] == "boom"
    assert failures[-1]["workflow"]["id"] == str(workflow.id)
    assert failures[-1]["workflow"]["consecutive_job_failures_count"] == 1


@pytest.mark.parametrize(
    ("preference", "toasted"),
    [("ALL", {"JOB_COMPLETED", "JOB_FAILED"}), ("ALERTS", {"JOB_FAILED"}), ("NONE", set())],
)
def test_every_notification_arrives_marked_for_toasting_as_the_preference_says(user, make_token, preference, toasted):
    user.notification_preference = preference
    user.save()
    _, secret = make_token(user)

    async def scenario():
        mine = await opened(f"/ws/dashboard/?token={secret}")
        for kind in ("JOB_COMPLETED", "JOB_FAILED"):
            await sync_to_async(notification_create)(
                user=user, kind=kind, payload={"workflow_name": "nightly", "error": "boom"}
            )
        messages = await drain(mine)
        await mine.disconnect()
        return messages

    messages = async_to_sync(scenario)()

    notifications = {m["notification"]["kind"]: m for m in messages if m["type"] == "notification"}
    assert set(notifications) == {"JOB_COMPLETED", "JOB_FAILED"}
    assert {kind for kind, m in notifications.items() if m["toast"]} == toasted
    assert notifications["JOB_FAILED"]["title"] == "Job failed"
    assert notifications["JOB_FAILED"]["text"] == "nightly: boom"


def test_another_users_changes_never_arrive(user, make_user, make_token):
    stranger = make_user()
    _, secret = make_token(user)

    async def scenario():
        mine = await opened(f"/ws/dashboard/?token={secret}")

        def elsewhere() -> None:
            workflow = heartbeat(stranger, "theirs")
            job = job_services.job_run_manually(workflow=workflow, user=stranger)
            job_services.job_cancel(job=job, canceled_by="test")
            workflow_services.workflow_pause(workflow=workflow)
            notification_create(user=stranger, kind="JOB_FAILED", payload={"error": "theirs"})

        await sync_to_async(elsewhere)()
        theirs = await drain(mine, within=1.5)
        await sync_to_async(heartbeat)(user, "mine")
        ours = await drain(mine)
        await mine.disconnect()
        return theirs, ours

    theirs, ours = async_to_sync(scenario)()

    assert theirs == []
    assert {m["type"] for m in ours} == {"workflow", "notification"}  # the socket was live all along


def test_a_page_follows_a_job_log_after_the_last_line_it_showed(user, make_user, make_token):
    _, secret = make_token(user)
    workflow = heartbeat(user)
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=workflow.created_at, status=JobStatus.QUEUED)
    writer = LogWriter(job.pk)
    for index in range(1, 4):
        writer.write("stdout", f"line {index}")
    writer.flush()
    someone_elses = Job.objects.create(
        workflow=heartbeat(make_user()), user_id=job.workflow.user_id, scheduled_at=job.scheduled_at
    )
    Job.objects.filter(pk=someone_elses.pk).update(user=make_user())

    async def scenario():
        mine = await opened(f"/ws/dashboard/?token={secret}")
        await mine.send_json_to({"type": "follow", "job_id": str(someone_elses.pk), "after": 0})
        refused = await mine.receive_json_from(timeout=10)
        await mine.send_json_to({"type": "follow", "job_id": str(job.pk), "after": 2})
        replayed = await until(mine, lambda m: m["type"] == "log_status")

        def more() -> None:
            writer.write("stderr", "line 4")
            writer.close()
            claimed = job_services.job_claim(job_id=job.pk, worker="test")
            job_services.job_finish(job=claimed, outcome=Outcome(True, exit_code=0), worker="test")

        await sync_to_async(more)()
        live = await until(mine, lambda m: m["type"] == "log_end")
        await mine.disconnect()
        return refused, replayed, live

    refused, replayed, live = async_to_sync(scenario)()

    assert refused == {"type": "error", "code": "not_found", "message": "Job not found."}
    assert [m["line"]["message"] for m in replayed if m["type"] == "log"] == ["line 3"]
    assert replayed[-1]["job"]["status"] == "QUEUED"
    assert [(m["line"]["stream"], m["line"]["message"]) for m in live if m["type"] == "log"] == [("stderr", "line 4")]
    assert live[-1] == {"type": "log_end", "job_id": str(job.pk), "job": live[-1]["job"]}
    assert live[-1]["job"]["status"] == "COMPLETED"
    assert any(m["type"] == "job" and m["job"]["status"] == "COMPLETED" for m in live)


def test_a_large_batch_of_jobs_is_one_jobs_message_naming_its_workflows(user, make_user, make_token):
    """A tick that dispatches more than DASHBOARD_JOB_MESSAGES jobs sends each user one `jobs`
    message naming the workflows concerned (a page re-reads its regions either way), never one per
    job, and nothing of it to another user."""
    from django.utils import timezone

    from bench.harness import heartbeats
    from jobs.scheduler import scheduler_tick

    count = job_services.DASHBOARD_JOB_MESSAGES + 10
    _, mine_token = make_token(user)
    _, other_token = make_token(make_user())

    async def scenario():
        mine = await opened(f"/ws/dashboard/?token={mine_token}")
        other = await opened(f"/ws/dashboard/?token={other_token}")
        await sync_to_async(heartbeats)(user, count, lambda n: timezone.now())
        created = await sync_to_async(scheduler_tick)()
        messages = await until(mine, lambda m: m["type"] == "jobs")
        messages += await drain(mine)
        others = await drain(other)
        await mine.disconnect()
        await other.disconnect()
        return created, messages, others

    created, messages, others = async_to_sync(scenario)()

    assert created == count
    batches = [m for m in messages if m["type"] == "jobs"]
    assert len(batches) == 1
    expected = {str(pk) for pk in job_services.Job.objects.values_list("workflow_id", flat=True)}
    assert set(batches[0]["workflow_ids"]) == expected
    assert len(expected) == count
    assert not [m for m in messages if m["type"] == "job"]
    assert others == []
