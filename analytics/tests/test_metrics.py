"""The platform's state on /metrics, as the contract's "Operations" lists it, read at scrape time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from analytics.selectors import platform_state
from jobs import services
from jobs.models import Job, JobStatus
from workflows import services as workflow_services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture
def platform(user, make_user, make_workflow, make_job) -> dict:
    """Two users' workflows in every state and jobs in every status, one workflow deleted."""
    now = timezone.now()
    other = make_user()
    active, theirs = make_workflow(), make_workflow(owner=other)
    workflow_services.workflow_pause(workflow=make_workflow())
    services.workflow_stop(workflow=make_workflow(owner=other))
    deleted = make_workflow()
    for workflow, status in [
        (active, JobStatus.COMPLETED),
        (active, JobStatus.COMPLETED),
        (theirs, JobStatus.FAILED),
        (theirs, JobStatus.CANCELED),
        (deleted, JobStatus.COMPLETED),
    ]:
        make_job(workflow, status, completed_at=now, duration=1.0)
    for workflow, status in [(active, JobStatus.PENDING), (theirs, JobStatus.RUNNING), (active, JobStatus.QUEUED)]:
        make_job(workflow, status)
    services.workflow_remove(workflow=deleted)
    # Due 2 minutes ago and not claimed by any tick; a job queued 90 s ago.
    Workflow.objects.filter(pk=active.pk).update(next_run_at=now - timedelta(minutes=2))
    Job.objects.filter(status=JobStatus.QUEUED).update(created_at=now - timedelta(seconds=90))
    return {"now": now}


def test_the_platforms_state_is_read_from_the_database(platform):
    state = platform_state(now=platform["now"])

    assert state.jobs_by_status == {
        "PENDING": 1,
        "QUEUED": 1,
        "RUNNING": 1,
        "COMPLETED": 3,  # one of them was a job of the deleted workflow
        "FAILED": 1,
        "CANCELED": 1,
    }
    assert state.workflows_by_state == {"active": 2, "paused": 1, "terminated": 1}
    assert state.scheduler_lag_seconds == 120.0
    assert state.oldest_queued_job_age_seconds == 90.0


def test_nothing_due_or_queued_is_zero_lag_and_zero_age(make_workflow):
    Workflow.objects.filter(pk=make_workflow().pk).update(next_run_at=timezone.now() + timedelta(minutes=5))
    # A paused workflow's overdue slot is not the scheduler's lag.
    paused = make_workflow()
    Workflow.objects.filter(pk=paused.pk).update(next_run_at=timezone.now() - timedelta(hours=1))
    workflow_services.workflow_pause(workflow=Workflow.objects.get(pk=paused.pk))

    state = platform_state()

    assert state.scheduler_lag_seconds == 0.0
    assert state.oldest_queued_job_age_seconds == 0.0


def test_metrics_report_the_platforms_state(client, platform):
    samples = scrape(client)

    for status, count in {"PENDING": 1, "QUEUED": 1, "RUNNING": 1, "COMPLETED": 3, "FAILED": 1, "CANCELED": 1}.items():
        assert samples[("chronoverse_jobs", (("status", status),))] == count
    for state, count in {"active": 2, "paused": 1, "terminated": 1}.items():
        assert samples[("chronoverse_workflows", (("state", state),))] == count
    # Read at the scrape, a moment after the fixture's `now`.
    assert 120 <= samples[("chronoverse_scheduler_lag_seconds", ())] < 3600
    assert 90 <= samples[("chronoverse_oldest_queued_job_age_seconds", ())] < 3600


def test_a_scrape_reads_the_state_anew(client, make_workflow, make_job):
    assert scrape(client)[("chronoverse_jobs", (("status", "FAILED"),))] == 0

    make_job(make_workflow(), JobStatus.FAILED, completed_at=timezone.now(), duration=1.0)

    assert scrape(client)[("chronoverse_jobs", (("status", "FAILED"),))] == 1
