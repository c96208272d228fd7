"""What a job's status says about its container is true, and an engine shared with another
installation is safe: a CANCELED job, or one FAILED by its timeout, has no container left; a
container removed under a running job is the platform's failure, retried; the reaper touches only
this installation's containers."""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import timedelta

from django.utils import timezone

from chronoverse import docker_engine
from conftest import wait_for
from jobs import recovery, services
from jobs.models import Job, JobLog, JobStatus
from jobs.tests.test_execution import finished, lines, run_now, shell
from workflows import services as workflow_services

BUSYBOX = "chronoverse/busybox:latest"


def small_container(command: list[str], labels: dict[str, str], *, network: str = "none") -> str:
    """A job-like container made the platform's way (created, not started)."""
    return docker_engine.container_create(
        image=BUSYBOX,
        entrypoint=None,
        command=command,
        env={},
        working_dir=None,
        memory_mb=32,
        cpus=0.5,
        pids_limit=16,
        network=network,
        mounts=[],
        labels=labels,
    )


def test_a_cancel_is_reported_once_the_container_has_stopped_gracefully(
    celery_worker, user, auth_api, settings, docker_client
):
    settings.CONTAINER_STOP_GRACE_SECONDS = 5
    workflow = shell(user, "trap 'echo stopping; exit 0' TERM; echo working; while true; do sleep 0.2; done")
    job = run_now(workflow, user)
    wait_for(lambda: ("stdout", "working") in lines(job))

    response = auth_api.post(f"/api/v1/jobs/{job.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELED"
    # Checked at once, not eventually: the answer came after the container was gone.
    assert docker_engine.containers_of_job(job.pk) == []
    # The job had its SIGTERM and its grace, and what it printed on the way out is kept.
    assert ("stdout", "stopping") in lines(job)
    job.refresh_from_db()
    assert (job.status, job.canceled_by) == (JobStatus.CANCELED, str(user.id))
    assert job.completed_at is not None


def test_a_container_that_ignores_sigterm_is_killed_after_the_grace(
    celery_worker, user, auth_api, settings, docker_client
):
    settings.CONTAINER_STOP_GRACE_SECONDS = 1
    # A shell as PID 1 with no trap ignores SIGTERM: only SIGKILL ends it.
    workflow = shell(user, "echo working; sleep 120")
    job = run_now(workflow, user)
    wait_for(lambda: ("stdout", "working") in lines(job))

    started = time.monotonic()
    response = auth_api.post(f"/api/v1/jobs/{job.id}/cancel")

    assert response.json()["status"] == "CANCELED"
    assert time.monotonic() - started >= 1  # the grace was given
    assert docker_engine.containers_of_job(job.pk) == []


def test_a_job_failed_by_its_timeout_has_no_container_left(celery_worker, user, settings, docker_client):
    settings.CONTAINER_STOP_GRACE_SECONDS = 1
    workflow = shell(user, "echo working; sleep 120", timeout=2)

    job = run_now(workflow, user)

    job = wait_for(lambda: (j := Job.objects.get(pk=job.pk)).status == JobStatus.FAILED and j, timeout=60)
    assert docker_engine.containers_of_job(job.pk) == []
    assert job.error == "Timed out after 2 s"


def test_a_container_removed_under_a_running_job_is_retried_and_not_counted(
    celery_worker, user, settings, docker_client
):
    settings.JOB_MAX_ATTEMPTS = 2
    settings.CONTAINER_STOP_GRACE_SECONDS = 1
    workflow = shell(user, "echo attempt; sleep 120")
    job = run_now(workflow, user)
    wait_for(lambda: ("stdout", "attempt") in lines(job))

    for container_id in docker_engine.containers_of_job(job.pk):
        docker_client.containers.get(container_id).remove(force=True)

    def moved_on() -> Job | None:
        current = Job.objects.get(pk=job.pk)
        return current if current.attempt == 2 or current.is_finished else None

    retried = wait_for(moved_on, timeout=30)
    assert retried.attempt == 2, (retried.status, retried.error)
    assert retried.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    assert "disappeared" in retried.error
    assert "Internal error" not in retried.error
    workflow.refresh_from_db()
    assert workflow.consecutive_job_failures_count == 0
    # The second attempt runs for real; stopping it ends the test quickly.
    wait_for(lambda: JobLog.objects.filter(job=job, message="attempt").count() == 2, timeout=30)
    services.job_cancel(job=retried, canceled_by="test", wait=True)
    assert finished(job).status == JobStatus.CANCELED


def test_the_host_sweep_leaves_another_installations_containers_alone(user, docker_client, transactional_db, settings):
    unknown_job = str(uuid.uuid4())  # a job this installation's database has never heard of
    theirs = docker_client.containers.create(
        BUSYBOX,
        ["sleep", "60"],
        labels={docker_engine.JOB_LABEL: unknown_job, docker_engine.INSTALLATION_LABEL: "another-installation"},
    )
    ours = docker_client.containers.create(
        BUSYBOX,
        ["sleep", "60"],
        labels={
            docker_engine.JOB_LABEL: unknown_job,
            docker_engine.INSTALLATION_LABEL: docker_engine.installation_id(),
        },
    )
    try:
        recovery.host_clean()

        remaining = {c.id for c in docker_client.containers.list(all=True)}
        assert theirs.id in remaining
        assert ours.id not in remaining
    finally:
        for container in (theirs, ours):
            with contextlib.suppress(Exception):
                container.remove(force=True)


def test_each_database_is_its_own_installation_unless_named(settings, transactional_db):
    from django.db import connection

    derived = docker_engine.installation_id()
    name = connection.settings_dict["NAME"]
    try:
        connection.settings_dict["NAME"] = f"{name}_elsewhere"
        assert docker_engine.installation_id() != derived
    finally:
        connection.settings_dict["NAME"] = name
    settings.INSTALLATION_ID = "staging"
    assert docker_engine.installation_id() == "staging"


def test_job_containers_and_built_images_carry_the_installation(user, docker_client, transactional_db, settings):
    settings.INSTALLATION_ID = f"test-{uuid.uuid4().hex[:8]}"
    container_id = small_container(["true"], {docker_engine.JOB_LABEL: str(uuid.uuid4())})
    tag = f"chronoverse-test/labelled:{uuid.uuid4().hex[:8]}"
    try:
        labels = docker_client.containers.get(container_id).labels
        assert labels[docker_engine.INSTALLATION_LABEL] == settings.INSTALLATION_ID
        context = docker_engine.build_context(f'FROM {BUSYBOX}\nCMD ["true"]\n', {})
        list(docker_engine.image_build(context, tag=tag, timeout=60))
        assert docker_client.images.get(tag).labels[docker_engine.INSTALLATION_LABEL] == settings.INSTALLATION_ID
    finally:
        docker_engine.container_remove(container_id)
        docker_engine.image_remove(tag)


def test_the_reaper_stops_the_container_of_a_cancel_whose_worker_was_lost(user, docker_client, transactional_db):
    workflow = shell_without_worker(user)
    now = timezone.now()
    job = Job.objects.create(
        workflow=workflow,
        user=user,
        scheduled_at=now,
        status=JobStatus.RUNNING,
        started_at=now,
        worker="gone:1",
        lease_expires_at=now + timedelta(minutes=5),
    )
    container_id = small_container(
        ["sh", "-c", "echo alive; sleep 120"], {docker_engine.JOB_LABEL: str(job.pk), docker_engine.ATTEMPT_LABEL: "1"}
    )
    docker_client.containers.get(container_id).start()
    services.job_cancel(job=job, canceled_by="test")
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # requested: its worker is to stop the container first

    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    recovery.reap()

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert docker_engine.containers_of_job(job.pk) == []
    assert ("stdout", "alive") in lines(job)


def shell_without_worker(user):
    """A CONTAINER workflow whose build is recorded done without a worker (its image is local)."""
    from workflows.models import BuildStatus, Workflow

    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={
            "name": "lost",
            "kind": "CONTAINER",
            "interval": 60,
            "payload": {"image": BUSYBOX, "command": ["sh", "-c"], "args": ["true"]},
        },
    )
    Workflow.objects.filter(pk=workflow.pk).update(build_status=BuildStatus.COMPLETED, image_ref=BUSYBOX)
    workflow.refresh_from_db()
    return workflow
