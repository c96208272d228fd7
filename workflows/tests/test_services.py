from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chronoverse.errors import ServiceError
from notifications.models import Notification
from workflows import services
from workflows.models import BuildStatus, Workflow, WorkflowBuild

pytestmark = pytest.mark.django_db

BUSYBOX = "chronoverse/busybox:latest"


def heartbeat(user, **fields) -> Workflow:
    workflow, _ = services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 1, **fields}
    )
    return workflow


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("created_at").values_list("kind", flat=True))


def test_success_resets_the_failure_count(user):
    workflow = heartbeat(user)
    services.workflow_record_job_outcome(workflow_id=workflow.pk, succeeded=False)

    workflow = services.workflow_record_job_outcome(workflow_id=workflow.pk, succeeded=True)

    assert workflow.consecutive_job_failures_count == 0
    assert workflow.terminated_at is None


def test_three_failures_terminate_a_threshold_three_workflow_with_an_alert_before(user):
    workflow = heartbeat(user, max_consecutive_job_failures_allowed=3)

    counts = []
    for _ in range(3):
        workflow = services.workflow_record_job_outcome(workflow_id=workflow.pk, succeeded=False)
        counts.append(workflow.consecutive_job_failures_count)

    assert counts == [1, 2, 3]
    assert workflow.terminated_at is not None
    assert workflow.termination_reason == "consecutive_failures"
    assert workflow.next_run_at is None
    assert kinds(user) == ["WORKFLOW_CREATED", "SYSTEM_ALERT", "WORKFLOW_TERMINATED"]
    alert = Notification.objects.get(user=user, kind="SYSTEM_ALERT").payload
    assert alert["failure_count"] == 2
    terminated = Notification.objects.get(user=user, kind="WORKFLOW_TERMINATED").payload
    assert terminated == {
        "workflow_id": str(workflow.id),
        "workflow_name": "hb",
        "reason": "consecutive_failures",
        "failure_count": 3,
    }


def test_a_threshold_of_one_terminates_on_the_first_failure_without_an_alert(user):
    workflow = heartbeat(user, max_consecutive_job_failures_allowed=1)

    workflow = services.workflow_record_job_outcome(workflow_id=workflow.pk, succeeded=False)

    assert workflow.terminated_at is not None
    assert "SYSTEM_ALERT" not in kinds(user)


def test_failures_after_termination_change_nothing_more(user):
    workflow = heartbeat(user, max_consecutive_job_failures_allowed=1)
    services.workflow_record_job_outcome(workflow_id=workflow.pk, succeeded=False)

    services.workflow_record_job_outcome(workflow_id=workflow.pk, succeeded=False)

    assert kinds(user).count("WORKFLOW_TERMINATED") == 1


def test_changing_a_container_payload_cancels_the_running_build_and_queues_another(user):
    workflow, _ = services.workflow_create(
        user=user, data={"name": "c", "kind": "CONTAINER", "payload": {"image": BUSYBOX}, "interval": 5}
    )
    first = workflow.builds.get()
    WorkflowBuild.objects.filter(pk=first.pk).update(status=BuildStatus.STARTED)

    workflow = services.workflow_update(workflow=workflow, data={"payload": {"image": BUSYBOX, "command": ["true"]}})

    first.refresh_from_db()
    assert first.status == BuildStatus.CANCELED
    assert workflow.build_status == BuildStatus.QUEUED
    assert workflow.build_generation == 2
    assert workflow.builds.get(generation=2).status == BuildStatus.QUEUED


def test_changing_a_container_name_keeps_the_build(user):
    workflow, _ = services.workflow_create(
        user=user, data={"name": "c", "kind": "CONTAINER", "payload": {"image": BUSYBOX}, "interval": 5}
    )

    workflow = services.workflow_update(workflow=workflow, data={"name": "renamed"})

    assert workflow.build_generation == 1


def test_the_kind_cannot_change(user):
    workflow = heartbeat(user)

    with pytest.raises(ServiceError) as error:
        services.workflow_update(workflow=workflow, data={"kind": "WEBHOOK"})

    assert error.value.fields == {"kind": ["The kind of a workflow cannot be changed."]}


def test_terminating_cancels_a_queued_build(user):
    workflow, _ = services.workflow_create(
        user=user, data={"name": "c", "kind": "CONTAINER", "payload": {"image": BUSYBOX}, "interval": 5}
    )

    workflow = services.workflow_terminate(workflow=workflow)

    assert workflow.build_status == BuildStatus.CANCELED
    assert workflow.builds.get().status == BuildStatus.CANCELED


def test_changing_the_interval_keeps_the_grid_of_the_last_slot(user):
    workflow = heartbeat(user, interval=60)
    later = timezone.now() + timedelta(minutes=30)
    Workflow.objects.filter(pk=workflow.pk).update(next_run_at=later)
    workflow.refresh_from_db()

    workflow = services.workflow_update(workflow=workflow, data={"interval": 90})

    # The slot before `later` was 60 minutes earlier; the new grid continues 90 minutes after it.
    assert workflow.next_run_at == later - timedelta(minutes=60) + timedelta(minutes=90)
