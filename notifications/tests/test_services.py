from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.utils import timezone

from chronoverse.errors import ServiceError
from chronoverse.redis_client import get_redis
from jobs import services as job_services
from jobs.models import Job, JobStatus
from jobs.outcome import Outcome
from notifications.models import Notification, NotificationKind
from notifications.services import notification_create
from workflows import builds
from workflows import services as workflow_services
from workflows.models import BuildStatus


def subscribe(user):
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"notifications:{user.pk}")
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    return pubsub


def received(pubsub, wait: float = 0.5) -> list[dict]:
    messages = []
    while (message := pubsub.get_message(timeout=wait)) is not None:
        messages.append(json.loads(message["data"]))
    return messages


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["just a string", None, [1, 2], 42])
def test_a_payload_that_is_not_an_object_is_refused(user, payload):
    with pytest.raises(ServiceError) as error:
        notification_create(user=user, kind="SYSTEM_ALERT", payload=payload)

    assert error.value.fields == {"payload": ["Must be a JSON object."]}
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_an_unknown_kind_is_refused(user):
    with pytest.raises(ServiceError):
        notification_create(user=user, kind="SOMETHING", payload={})


@pytest.mark.django_db(transaction=True)
def test_the_row_commits_before_the_message_is_published(user):
    pubsub = subscribe(user)

    with transaction.atomic():
        notification = notification_create(user=user, kind="SYSTEM_ALERT", payload={"message": "hello"})
        assert received(pubsub, wait=0.3) == []

    messages = received(pubsub)
    assert messages == [
        {
            "id": str(notification.id),
            "kind": "SYSTEM_ALERT",
            "payload": {"message": "hello"},
            "created_at": messages[0]["created_at"],
        }
    ]
    assert messages[0]["created_at"].endswith("Z")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_notification_is_never_published(user):
    pubsub = subscribe(user)

    def failing_caller() -> None:
        with transaction.atomic():
            notification_create(user=user, kind="SYSTEM_ALERT", payload={})
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        failing_caller()

    assert received(pubsub) == []
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_publish_never_loses_the_row_nor_fails_the_caller(user, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    notification = notification_create(user=user, kind="JOB_FAILED", payload={"error": "boom"})

    assert Notification.objects.filter(pk=notification.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("preference", "pushed"),
    [
        ("ALL", {"WORKFLOW_CREATED", "JOB_COMPLETED", "JOB_FAILED", "SYSTEM_ALERT"}),
        ("ALERTS", {"JOB_FAILED", "SYSTEM_ALERT"}),
        ("NONE", set()),
    ],
)
def test_the_preference_decides_what_is_pushed_but_everything_is_stored(user, preference, pushed):
    user.notification_preference = preference
    user.save()
    pubsub = subscribe(user)

    for kind in ("WORKFLOW_CREATED", "JOB_COMPLETED", "JOB_FAILED", "SYSTEM_ALERT"):
        notification_create(user=user, kind=kind, payload={})

    assert {m["kind"] for m in received(pubsub)} == pushed
    assert Notification.objects.filter(user=user).count() == 4


@pytest.mark.django_db
def test_every_kind_arises_from_its_event(user, make_user):
    """How each kind of the contract comes about, through the services that emit it."""
    seen: dict[str, dict] = {}

    def latest(kind: str) -> dict:
        seen[kind] = Notification.objects.filter(user=user, kind=kind).latest("created_at").payload
        return seen[kind]

    # WORKFLOW_CREATED: a workflow is created.
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={
            "name": "etl",
            "kind": "HEARTBEAT",
            "payload": {},
            "interval": 1440,
            "max_consecutive_job_failures_allowed": 2,
        },
    )
    assert latest("WORKFLOW_CREATED") == {
        "workflow_id": str(workflow.id),
        "workflow_name": "etl",
        "workflow_kind": "HEARTBEAT",
        "interval": 1440,
        "schedule": None,
    }
    # WORKFLOW_UPDATED: its configuration changes.
    workflow_services.workflow_update(workflow=workflow, data={"interval": 60})
    assert latest("WORKFLOW_UPDATED")["changes"] == ["interval"]
    # WORKFLOW_BUILD_COMPLETED / WORKFLOW_BUILD_FAILED: a CONTAINER build ends.
    container, _ = workflow_services.workflow_create(
        user=user, data={"name": "c", "kind": "CONTAINER", "payload": {"image": "x:1"}, "interval": 5}
    )
    build = container.builds.get()
    build.status = BuildStatus.STARTED
    build.save()
    builds.build_finish(build=build, status=BuildStatus.FAILED, error="Image not found: x:1")
    assert latest("WORKFLOW_BUILD_FAILED")["error"] == "Image not found: x:1"
    rebuild = workflow_services.workflow_rebuild(workflow=container)
    builds.build_finish(build=rebuild, status=BuildStatus.COMPLETED, image_ref="x:1")
    assert latest("WORKFLOW_BUILD_COMPLETED")["build_status"] == "COMPLETED"
    # JOB_STARTED / JOB_COMPLETED: a job is claimed by a worker, then succeeds.
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.QUEUED)
    job = job_services.job_claim(job_id=job.pk, worker="test")
    assert latest("JOB_STARTED")["trigger"] == "AUTOMATIC"
    job_services.job_finish(job=job, outcome=Outcome(True))
    assert latest("JOB_COMPLETED")["status"] == "COMPLETED"
    # JOB_CANCELED: a user cancels a job.
    queued = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.QUEUED)
    job_services.job_cancel(job=queued, canceled_by=str(user.id))
    assert latest("JOB_CANCELED")["canceled_by"] == str(user.id)
    # WORKFLOW_PAUSED / WORKFLOW_RESUMED: its automatic runs stop, then go on.
    workflow_services.workflow_pause(workflow=workflow)
    assert latest("WORKFLOW_PAUSED") == {"workflow_id": str(workflow.id), "workflow_name": "etl"}
    workflow_services.workflow_resume(workflow=workflow)
    assert latest("WORKFLOW_RESUMED") == {"workflow_id": str(workflow.id), "workflow_name": "etl"}
    # JOB_FAILED + SYSTEM_ALERT (one failure before the threshold) + WORKFLOW_TERMINATED (at it).
    for _ in range(2):
        failing = Job.objects.create(
            workflow=workflow,
            user=user,
            scheduled_at=timezone.now(),
            status=JobStatus.RUNNING,
            started_at=timezone.now(),
        )
        job_services.job_finish(job=failing, outcome=Outcome(False, "Exited with code 1", 1))
    assert latest("JOB_FAILED")["error"] == "Exited with code 1"
    assert latest("SYSTEM_ALERT")["failure_count"] == 1
    assert latest("WORKFLOW_TERMINATED") == {
        "workflow_id": str(workflow.id),
        "workflow_name": "etl",
        "reason": "consecutive_failures",
        "failure_count": 2,
    }

    assert set(seen) == set(NotificationKind.values)
    assert not Notification.objects.filter(user=make_user()).exists()
