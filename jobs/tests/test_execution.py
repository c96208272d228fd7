"""Jobs run for real: a Celery worker, the Docker engine, and a local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from chronoverse import docker_engine
from conftest import wait_for
from jobs import services
from jobs.models import Job, JobLog, JobStatus
from notifications.models import Notification
from workflows import services as workflow_services
from workflows.models import Workflow

BUSYBOX = "chronoverse/busybox:latest"


def make_workflow(user, kind: str, payload: dict, **fields) -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": f"{kind.lower()} job", "kind": kind, "payload": payload, "interval": 60, **fields}
    )
    if kind == "CONTAINER":
        # The worker builds it (the build task is sent when the workflow commits).
        wait_for(lambda: Workflow.objects.get(pk=workflow.pk).build_status == "COMPLETED")
    workflow.refresh_from_db()
    return workflow


def shell(user, script: str, fields: dict | None = None, **payload) -> Workflow:
    return make_workflow(
        user, "CONTAINER", {"image": BUSYBOX, "command": ["sh", "-c"], "args": [script], **payload}, **(fields or {})
    )


def run_now(workflow: Workflow, user) -> Job:
    return services.job_run_manually(workflow=workflow, user=user)


def finished(job: Job, timeout: float = 60) -> Job:
    return wait_for(
        lambda: (j := Job.objects.get(pk=job.pk)).status in ("COMPLETED", "FAILED", "CANCELED") and j, timeout=timeout
    )


def lines(job: Job) -> list[tuple[str, str]]:
    return list(JobLog.objects.filter(job=job).order_by("sequence").values_list("stream", "message"))


def containers_of(job: Job) -> list[str]:
    return docker_engine.containers_of_job(job.pk)


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("created_at", "id").values_list("kind", flat=True))


def test_a_container_job_keeps_stdout_and_stderr_apart_in_order(celery_worker, user, docker_client):
    # stdout and stderr are two pipes: writes microseconds apart have no order anyone could keep,
    # so the lines come a tenth of a second apart, as output a person would read does.
    workflow = shell(
        user,
        "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; sleep 0.1; "
        "echo four >&2; sleep 0.1; printf 'no newline'",
    )

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.COMPLETED, job.error
    assert job.exit_code == 0
    assert job.duration_seconds > 0
    assert lines(job) == [
        ("stdout", "one"),
        ("stderr", "two"),
        ("stdout", "three"),
        ("stderr", "four"),
        ("stdout", "no newline"),
    ]
    assert list(JobLog.objects.filter(job=job).order_by("sequence").values_list("sequence", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert containers_of(job) == []
    assert kinds(user)[-2:] == ["JOB_STARTED", "JOB_COMPLETED"]
    completed = Notification.objects.get(user=user, kind="JOB_COMPLETED").payload
    assert completed["job_id"] == str(job.id)
    assert completed["status"] == "COMPLETED"


def test_the_payload_reaches_the_container(celery_worker, user, docker_client):
    workflow = shell(
        user, 'echo "$GREETING from $(pwd)"', env={"GREETING": "hello"}, working_dir="/tmp", network="none"
    )

    job = finished(run_now(workflow, user))

    assert lines(job) == [("stdout", "hello from /tmp")]


def test_a_non_zero_exit_fails_with_its_code(celery_worker, user, docker_client):
    job = finished(run_now(shell(user, "echo about to fail; exit 3"), user))

    assert job.status == JobStatus.FAILED
    assert job.exit_code == 3
    assert job.error == "Exited with code 3"


def test_a_container_past_its_timeout_is_failed_and_removed(celery_worker, user, docker_client):
    workflow = shell(user, "echo started; sleep 30", timeout=2)

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.FAILED
    assert job.error == "Timed out after 2 s"
    assert ("stdout", "started") in lines(job)
    assert containers_of(job) == []
    assert job.duration_seconds < 20


def test_a_container_over_its_memory_limit_is_failed_as_out_of_memory(celery_worker, user, docker_client):
    workflow = shell(user, "tail /dev/zero", memory_mb=8)

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.FAILED
    assert job.error.startswith("Out of memory"), job.error


def test_cancel_stops_a_running_container(celery_worker, user, auth_api, docker_client):
    workflow = shell(user, "echo working; sleep 60")
    job = run_now(workflow, user)
    wait_for(lambda: ("stdout", "working") in lines(job))

    response = auth_api.post(f"/api/v1/jobs/{job.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELED"
    wait_for(lambda: containers_of(job) == [], timeout=30)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.canceled_by == str(user.id)
    canceled = Notification.objects.get(user=user, kind="JOB_CANCELED").payload
    assert canceled["canceled_by"] == str(user.id)
    assert auth_api.post(f"/api/v1/jobs/{job.id}/cancel").status_code == 409


def test_three_failures_auto_terminate_a_threshold_three_workflow(celery_worker, user, docker_client):
    workflow = shell(user, "exit 1", fields={"max_consecutive_job_failures_allowed": 3})

    for _ in range(3):
        finished(run_now(workflow, user))

    workflow.refresh_from_db()
    assert workflow.terminated_at is not None
    assert workflow.termination_reason == "consecutive_failures"
    assert kinds(user).count("JOB_FAILED") == 3
    assert kinds(user)[-2:] == ["JOB_FAILED", "WORKFLOW_TERMINATED"]
    assert "SYSTEM_ALERT" in kinds(user)
    assert Notification.objects.get(user=user, kind="WORKFLOW_TERMINATED").payload["failure_count"] == 3


# -- HTTP jobs against a local server ------------------------------------------------------------


def test_a_webhook_is_retried_on_5xx_and_signed(celery_worker, user, http_server, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 0.05
    http_server.statuses = [503, 500, 200]
    body = {"event": "tick", "n": 1}
    workflow = make_workflow(
        user, "WEBHOOK", {"url": f"{http_server.url}/hook", "body": body, "secret": "s3cret", "retries": 3}
    )

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.COMPLETED, job.error
    assert len(http_server.requests) == 3
    for attempt, request in enumerate(http_server.requests, start=1):
        expected = "sha256=" + hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
        assert request["headers"]["X-Chronoverse-Signature"] == expected
        assert request["headers"]["X-Chronoverse-Attempt"] == str(attempt)
        assert json.loads(request["body"]) == body
    logged = [message for _, message in lines(job)]
    assert sum(message.startswith("attempt ") for message in logged) == 3


def test_a_webhook_gives_up_after_its_retries(celery_worker, user, http_server, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 0.01
    http_server.statuses = [502, 502, 502]
    workflow = make_workflow(user, "WEBHOOK", {"url": f"{http_server.url}/hook", "retries": 2})

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.FAILED
    assert job.error == "Gave up after 3 attempt(s): Unexpected status 502"
    assert len(http_server.requests) == 3


def test_a_webhook_is_not_retried_on_a_client_error(celery_worker, user, http_server):
    http_server.statuses = [404]
    workflow = make_workflow(user, "WEBHOOK", {"url": f"{http_server.url}/missing", "method": "GET"})

    job = finished(run_now(workflow, user))

    assert job.error == "Unexpected status 404"
    assert len(http_server.requests) == 1


def test_a_webhook_to_a_closed_port_retries_then_fails(celery_worker, user, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 0.01
    workflow = make_workflow(user, "WEBHOOK", {"url": "http://127.0.0.1:9/nothing", "retries": 1, "timeout": 2})

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.FAILED
    assert job.error.startswith("Gave up after 2 attempt(s): ConnectionError")


def test_a_heartbeat_checks_its_endpoint(celery_worker, user, http_server):
    http_server.statuses = [200, 500]
    workflow = make_workflow(user, "HEARTBEAT", {"endpoint": f"{http_server.url}/health", "timeout": 2})

    ok = finished(run_now(workflow, user))
    bad = finished(run_now(workflow, user))

    assert ok.status == JobStatus.COMPLETED
    assert bad.status == JobStatus.FAILED
    assert bad.error == "Expected status 200, got 500"


def test_a_bare_heartbeat_completes_at_once_in_a_batch(celery_worker, user):
    workflow = make_workflow(user, "HEARTBEAT", {})

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.COMPLETED
    assert job.duration_seconds == 0.0
    assert kinds(user)[-2:] == ["JOB_STARTED", "JOB_COMPLETED"]


def test_an_unreachable_engine_is_retried_and_not_blamed_on_the_workflow(celery_worker, user, settings, tmp_path):
    settings.JOB_MAX_ATTEMPTS = 2
    workflow = shell(user, "echo never runs")
    settings.DOCKER_HOST = f"unix://{tmp_path}/no-engine.sock"

    job = finished(run_now(workflow, user), timeout=60)

    assert job.status == JobStatus.FAILED
    assert job.attempt == 2
    assert job.infrastructure_failure
    assert "Container engine unreachable" in job.error
    assert job.error.endswith("(gave up after 2 attempts)")
    workflow.refresh_from_db()
    assert workflow.consecutive_job_failures_count == 0
    alert = Notification.objects.get(user=user, kind="SYSTEM_ALERT").payload
    assert alert["reason"] == "infrastructure_failure"


def test_run_workflow_command_follows_the_output(celery_worker, user, docker_client):
    from io import StringIO

    from django.core.management import call_command

    workflow = shell(user, "echo hello from the command; echo careful >&2")
    out, err = StringIO(), StringIO()

    call_command("run_workflow", str(workflow.id), stdout=out, stderr=err)

    assert "hello from the command" in out.getvalue()
    assert "careful" in err.getvalue()
    assert "COMPLETED in" in out.getvalue()


def test_named_volumes_belong_to_their_user(celery_worker, user, make_user, docker_client):
    writer = shell(user, "echo secret > /data/file", volumes=[{"source": "data", "target": "/data"}])
    reader = shell(make_user(), "cat /data/file || echo nothing here", volumes=[{"source": "data", "target": "/data"}])
    try:
        finished(run_now(writer, user))
        job = finished(run_now(reader, reader.user))

        assert ("stdout", "nothing here") in lines(job)
        assert ("stdout", "secret") not in lines(job)
        assert docker_client.volumes.get(f"cv-{user.id}-data")
    finally:
        for volume in docker_client.volumes.list():
            if volume.name.startswith("cv-"):
                volume.remove(force=True)


@pytest.mark.parametrize("kind", ["WEBHOOK", "HEARTBEAT"])
def test_private_targets_are_refused_unless_the_operator_allows_them(celery_worker, user, http_server, settings, kind):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    target = f"{http_server.url}/internal"
    payload = {"url": target, "retries": 3} if kind == "WEBHOOK" else {"endpoint": target}
    workflow = make_workflow(user, kind, payload)

    job = finished(run_now(workflow, user))

    assert job.status == JobStatus.FAILED
    assert "not a public address" in job.error
    assert http_server.requests == []
