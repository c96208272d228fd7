"""WEBSOCKET jobs without sockets: how they wait, end, and leave the rest of the engine alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import clients, recovery, services
from jobs.models import CLIENT_WORKER, ClientConnection, ClientDelivery, Job, JobStatus
from workflows import services as workflow_services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def websocket_workflow(user, **payload) -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={"name": "agent", "kind": "WEBSOCKET", "payload": {"client_name": "agent", **payload}, "interval": 60},
    )
    return workflow


def waiting(workflow: Workflow) -> Job:
    job = Job.objects.create(workflow=workflow, user=workflow.user, scheduled_at=timezone.now())
    assert services.job_dispatch(job_ids=[job.pk]) == 1
    return Job.objects.get(pk=job.pk)


def test_a_dispatched_websocket_job_waits_for_its_ack_without_a_worker(user):
    job = waiting(websocket_workflow(user, ack_timeout=45))

    assert (job.status, job.worker) == (JobStatus.RUNNING, CLIENT_WORKER)
    assert job.lease_expires_at == job.started_at + timedelta(seconds=45)
    assert ClientDelivery.objects.get(job=job).client_name == "agent"
    assert clients.client_pending_events(user_id=user.pk, client_name="agent")[0][0]["job_id"] == str(job.id)
    assert clients.client_pending_events(user_id=user.pk, client_name="other") == []


def test_waiting_jobs_hold_no_worker_slot(user, settings):
    settings.MAX_RUNNING_JOBS_PER_USER = 1
    waiting(websocket_workflow(user))
    heartbeat, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )

    job = services.job_run_manually(workflow=heartbeat, user=user)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)  # as its dispatch, after commit, does

    assert services.job_claim(job_id=job.pk, worker="w1") is not None


def test_the_reaper_leaves_an_overdue_waiting_job_to_the_tick(user):
    job = waiting(websocket_workflow(user, ack_timeout=5))
    later = job.lease_expires_at + timedelta(seconds=1)

    recovery.reap(now=later)

    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING  # not retried as a lost worker
    assert clients.client_deliveries_expire(now=later) == 1
    job = Job.objects.get(pk=job.pk)
    assert (job.status, job.error, job.attempt) == (JobStatus.FAILED, "no acknowledgement within 5 s", 1)
    assert clients.client_deliveries_expire(now=later) == 0


def test_terminating_the_workflow_cancels_its_waiting_job_and_a_later_ack_is_ignored(user):
    workflow = websocket_workflow(user)
    job = waiting(workflow)
    connection = clients.client_connection_open(user_id=user.pk, client_name="agent", remote_addr="")

    services.workflow_stop(workflow=workflow)

    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELED
    assert not clients.client_ack(user_id=user.pk, client_name="agent", job_id=job.pk, connection=connection)
    assert clients.client_pending_events(user_id=user.pk, client_name="agent") == []
    assert ClientDelivery.objects.get(job=job).acked_at is None


def test_deleting_a_websocket_workflow_removes_its_jobs_and_deliveries(auth_api, user):
    workflow = websocket_workflow(user)
    waiting(workflow)

    assert auth_api.delete(f"/api/v1/workflows/{workflow.id}").status_code == 204

    assert not Job.objects.exists()
    assert not ClientDelivery.objects.exists()


def test_stale_presence_is_swept_by_the_reaper(user):
    seen = timezone.now() - timedelta(minutes=5)
    ClientConnection.objects.create(user=user, client_name="gone", connected_at=seen, last_seen_at=seen)
    live = ClientConnection.objects.create(user=user, client_name="here")

    assert recovery.reap()["stale_client_connections"] == 1
    assert list(ClientConnection.objects.all()) == [live]
