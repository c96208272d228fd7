"""Per-user quotas: one user cannot take the whole platform."""

from __future__ import annotations

import pytest
from django.utils import timezone

from chronoverse.errors import ServiceError
from jobs import services
from jobs.models import Job, JobStatus
from jobs.outcome import Outcome, UserAtCapacity
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db


def heartbeat(user, name: str = "hb"):
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={"name": name, "kind": "HEARTBEAT", "payload": {"endpoint": "https://example.com/"}, "interval": 5},
    )
    return workflow


def test_active_workflows_beyond_the_quota_are_a_409_and_terminated_ones_do_not_count(auth_api, user, settings):
    settings.MAX_WORKFLOWS_PER_USER = 2
    first = heartbeat(user, "one")
    heartbeat(user, "two")
    body = {"name": "three", "kind": "HEARTBEAT", "payload": {}, "interval": 5}

    refused = auth_api.post("/api/v1/workflows", body, format="json")

    assert refused.status_code == 409
    assert "2 active workflows, the most allowed" in refused.json()["error"]["message"]
    workflow_services.workflow_terminate(workflow=first)
    assert auth_api.post("/api/v1/workflows", body, format="json").status_code == 201


def test_jobs_beyond_the_running_quota_wait_queued_and_a_manual_run_is_a_429(auth_api, user, make_user, settings):
    settings.MAX_RUNNING_JOBS_PER_USER = 1
    workflow = heartbeat(user)
    now = timezone.now()
    running = Job.objects.create(workflow=workflow, user=user, scheduled_at=now, status=JobStatus.RUNNING)
    waiting = Job.objects.create(
        workflow=workflow, user=user, scheduled_at=now, status=JobStatus.QUEUED, trigger="MANUAL"
    )

    with pytest.raises(UserAtCapacity):
        services.job_claim(job_id=waiting.pk, worker="w:1")
    waiting.refresh_from_db()
    assert waiting.status == JobStatus.QUEUED

    manual = auth_api.post(f"/api/v1/workflows/{workflow.id}/jobs")
    assert manual.status_code == 429
    assert manual.headers["Retry-After"]
    assert "the most allowed at once" in manual.json()["error"]["message"]

    # Another user is not held up by this one.
    stranger = make_user()
    theirs = Job.objects.create(workflow=heartbeat(stranger), user=stranger, scheduled_at=now, status=JobStatus.QUEUED)
    assert services.job_claim(job_id=theirs.pk, worker="w:2") is not None

    services.job_finish(job=running, outcome=Outcome(True))
    assert services.job_claim(job_id=waiting.pk, worker="w:1").status == JobStatus.RUNNING


def test_the_quota_errors_are_service_errors_with_codes(user, settings):
    settings.MAX_WORKFLOWS_PER_USER = 1
    heartbeat(user)

    with pytest.raises(ServiceError) as refused:
        heartbeat(user, "again")

    assert refused.value.code == "conflict"
