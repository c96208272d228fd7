"""Live log streams over a real server, and recovery from lost messages and killed workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import requests
from django.utils import timezone

from chronoverse import docker_engine
from conftest import _test_database_env, wait_for
from jobs import recovery, services
from jobs.models import Job, JobLog, JobStatus
from jobs.outcome import Outcome
from workflows import services as workflow_services
from workflows.models import Workflow

BUSYBOX = "chronoverse/busybox:latest"


def container(user, script: str, **payload) -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={
            "name": "live",
            "kind": "CONTAINER",
            "interval": 60,
            "payload": {"image": BUSYBOX, "command": ["sh", "-c"], "args": [script], **payload},
        },
    )
    wait_for(lambda: Workflow.objects.get(pk=workflow.pk).build_status == "COMPLETED")
    workflow.refresh_from_db()
    return workflow


def own_labels(job: Job) -> dict[str, str]:
    """The labels this installation's job containers carry."""
    return {docker_engine.JOB_LABEL: str(job.pk), docker_engine.INSTALLATION_LABEL: docker_engine.installation_id()}


def read_sse(response, until: str = "end", timeout: float = 60) -> list[tuple[float, str, dict | None]]:
    """(arrival time, event, data) for each event until `until`."""
    events, event, deadline = [], None, time.monotonic() + timeout
    for raw in response.iter_lines(decode_unicode=True):
        if time.monotonic() > deadline:
            break
        if raw.startswith("event: "):
            event = raw[7:]
        elif raw.startswith("data: "):
            events.append((time.monotonic(), event, json.loads(raw[6:])))
            if event == until:
                break
    return events


def test_logs_arrive_in_order_and_live_over_sse(celery_worker, live_server_url, user, make_token, docker_client):
    _, secret = make_token(user)
    workflow = container(
        user, "echo first; sleep 0.2; echo warning >&2; sleep 2; echo second; sleep 0.2; echo problem >&2"
    )
    job = services.job_run_manually(workflow=workflow, user=user)

    with requests.get(
        f"{live_server_url}/api/v1/jobs/{job.id}/events",
        stream=True,
        timeout=60,
        headers={"Authorization": f"Bearer {secret}"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = read_sse(response)

    logs = [(data["stream"], data["message"]) for _, event, data in events if event == "log"]
    assert logs == [("stdout", "first"), ("stderr", "warning"), ("stdout", "second"), ("stderr", "problem")]
    sequences = [data["sequence"] for _, event, data in events if event == "log"]
    assert sequences == sorted(sequences)
    arrival = {data["message"]: at for at, event, data in events if event == "log"}
    end_at = next(at for at, event, _ in events if event == "end")
    # "first" is streamed while the container still sleeps, not replayed after the job ended.
    assert end_at - arrival["first"] > 1.5
    assert events[-1][1] == "end"
    assert events[-1][2]["status"] == "COMPLETED"


def test_a_finished_jobs_events_replay_everything_then_end(live_server_url, user, make_token, transactional_db):
    _, secret = make_token(user)
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.COMPLETED)
    from jobs.logs import LogWriter

    with LogWriter(job.pk) as log:
        for i in range(5):
            log.write("stdout", f"stored {i}")

    with requests.get(
        f"{live_server_url}/api/v1/jobs/{job.id}/events",
        stream=True,
        timeout=30,
        headers={"Authorization": f"Bearer {secret}"},
    ) as response:
        events = read_sse(response)

    assert [e for _, e, _ in events] == ["log"] * 5 + ["status", "end"]
    unauthenticated = requests.get(f"{live_server_url}/api/v1/jobs/{job.id}/events", timeout=10)
    assert unauthenticated.status_code == 401


def test_a_lost_broker_message_is_sent_again(celery_worker, user, settings):
    settings.JOB_REQUEUE_AFTER_SECONDS = 5
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    long_ago = timezone.now() - timedelta(minutes=10)
    # Committed as QUEUED and PENDING, but no message ever reached the broker (say Redis restarted).
    queued = Job.objects.create(
        workflow=workflow, user=user, scheduled_at=long_ago, status=JobStatus.QUEUED, updated_at=long_ago
    )
    pending = Job.objects.create(
        workflow=workflow,
        user=user,
        scheduled_at=timezone.now(),
        status=JobStatus.PENDING,
        updated_at=long_ago,
        trigger="MANUAL",
    )

    result = recovery.reap()

    assert result["redispatched"] == 2
    wait_for(lambda: set(Job.objects.values_list("status", flat=True)) == {JobStatus.COMPLETED})
    assert {queued.pk, pending.pk} == set(Job.objects.values_list("pk", flat=True))


def test_a_worker_killed_mid_job_leaves_no_running_job_and_no_container(
    user, settings, transactional_db, docker_client
):
    settings.JOB_MAX_ATTEMPTS = 1
    env = {**_test_database_env(), "JOB_LEASE_SECONDS": "3"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "chronoverse",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workflow = container(user, "echo before the kill; sleep 120")
        job = services.job_run_manually(workflow=workflow, user=user)
        wait_for(lambda: JobLog.objects.filter(job=job, message="before the kill").exists(), timeout=60)
        assert docker_engine.containers_of_job(job.pk)

        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # The worker renewed a 3-second lease; once it lapses, the job is the reaper's.
        wait_for(lambda: Job.objects.get(pk=job.pk).lease_expires_at < timezone.now(), timeout=15)
        recovery.reap()
    finally:
        if worker.poll() is None:
            worker.kill()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.infrastructure_failure
    assert "worker running this job was lost" in job.error
    assert docker_engine.containers_of_job(job.pk) == []
    assert list(JobLog.objects.filter(job=job).values_list("message", flat=True)) == ["before the kill"]
    workflow.refresh_from_db()
    # The platform lost the job: it does not count toward auto-termination.
    assert workflow.consecutive_job_failures_count == 0
    assert not Job.objects.filter(status=JobStatus.RUNNING).exists()


def test_a_lost_worker_with_attempts_left_queues_the_job_again(user, transactional_db):
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={"name": "hb", "kind": "HEARTBEAT", "payload": {"endpoint": "http://127.0.0.1:9/"}, "interval": 5},
    )
    now = timezone.now()
    job = Job.objects.create(
        workflow=workflow,
        user=user,
        scheduled_at=now,
        status=JobStatus.RUNNING,
        started_at=now,
        worker="gone:1",
        lease_expires_at=now - timedelta(seconds=1),
    )

    recovery.reap()

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.attempt == 2


def test_containers_of_finished_jobs_are_removed(user, docker_client, transactional_db):
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.CANCELED)
    orphan = docker_client.containers.create(BUSYBOX, ["sleep", "60"], labels=own_labels(job))

    recovery.host_clean()

    assert docker_engine.containers_of_job(job.pk) == []
    assert orphan.id not in [c.id for c in docker_client.containers.list(all=True)]


def test_a_worker_whose_lease_expired_cannot_finish_the_job(user, transactional_db):
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={"name": "hb", "kind": "HEARTBEAT", "payload": {"endpoint": "http://127.0.0.1:9/"}, "interval": 5},
    )
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.QUEUED)
    claimed = services.job_claim(job_id=job.pk, worker="slow-worker:1")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    recovery.reap()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, worker="new-worker:2")  # the retry runs

    late = services.job_finish(job=claimed, outcome=Outcome(False, "Exited with code 137", 137), worker="slow-worker:1")

    job.refresh_from_db()
    assert late is False
    assert job.status == JobStatus.RUNNING
    assert job.worker == "new-worker:2"
    workflow.refresh_from_db()
    assert workflow.consecutive_job_failures_count == 0


def test_containers_of_a_superseded_attempt_are_removed(user, docker_client, transactional_db):
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    job = Job.objects.create(
        workflow=workflow,
        user=user,
        scheduled_at=timezone.now(),
        status=JobStatus.RUNNING,
        attempt=2,
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    labels = own_labels(job)
    old = docker_client.containers.create(BUSYBOX, ["sleep", "60"], labels={**labels, docker_engine.ATTEMPT_LABEL: "1"})
    current = docker_client.containers.create(
        BUSYBOX, ["sleep", "60"], labels={**labels, docker_engine.ATTEMPT_LABEL: "2"}
    )
    try:
        recovery.host_clean()

        assert docker_engine.containers_of_job(job.pk) == [current.id]
    finally:
        for container in (old, current):
            with contextlib.suppress(Exception):
                container.remove(force=True)
