"""Writes of the workflows app: create, update, terminate, delete, rebuild, and failure tracking."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.services import SYSTEM, RequestContext, audit_record
from chronoverse import hosts, task_queue
from chronoverse.errors import ServiceError
from notifications.models import NotificationKind
from notifications.services import notification_create
from workflows.live import workflow_changed, workflow_deleted
from workflows.models import (
    BuildStatus,
    IdempotencyKey,
    TerminationReason,
    Workflow,
    WorkflowBuild,
    WorkflowKind,
)
from workflows.pings import ping_digest
from workflows.schedule import Plan
from workflows.validation import clean_create, clean_update, current_fields


class Timed(Protocol):
    """What a plan is made of: a Workflow, or a row of its timing fields (the scheduler's tick)."""

    @property
    def interval(self) -> int | None: ...
    @property
    def schedule(self) -> dict | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def start_at(self) -> datetime | None: ...
    @property
    def end_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


def workflow_plan(workflow: Timed) -> Plan:
    return Plan(
        interval=workflow.interval,
        schedule=workflow.schedule,
        timezone=workflow.timezone,
        start_at=workflow.start_at,
        end_at=workflow.end_at,
        anchor=workflow.created_at,
    )


def workflow_notify(workflow: Workflow, kind: str, **extra: Any) -> None:
    notification_create(
        user=workflow.user,
        kind=kind,
        payload={"workflow_id": str(workflow.id), "workflow_name": workflow.name, **extra},
    )


def _audit(workflow: Workflow, action: str, context: RequestContext, **details: Any) -> None:
    audit_record(user=workflow.user, action=f"workflow.{action}", context=context, target=workflow, details=details)


def _request_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _queue_build(workflow: Workflow) -> WorkflowBuild:
    """Start a new build generation; older queued or running builds of the workflow are canceled."""
    WorkflowBuild.objects.filter(workflow=workflow, status__in=[BuildStatus.QUEUED, BuildStatus.STARTED]).update(
        status=BuildStatus.CANCELED, finished_at=timezone.now()
    )
    workflow.build_generation += 1
    workflow.build_status = BuildStatus.QUEUED
    workflow.build_error = ""
    workflow.image_ref = ""
    workflow.next_run_at = None
    workflow.save(
        update_fields=["build_generation", "build_status", "build_error", "image_ref", "next_run_at", "updated_at"]
    )
    build = WorkflowBuild.objects.create(workflow=workflow, generation=workflow.build_generation)
    task_queue.send_on_commit(task_queue.BUILD_WORKFLOW_IMAGE, str(build.id))
    workflow_changed(workflow.pk)
    return build


def _check_workflow_quota(user: User) -> None:
    # The user's row lock makes two racing creations count one after the other.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    active = Workflow.objects.filter(user=user, terminated_at__isnull=True).count()
    if active >= settings.MAX_WORKFLOWS_PER_USER:
        raise ServiceError(
            f"You have {active} active workflows, the most allowed; terminate or delete one first.",
            code="conflict",
        )


def workflow_create(
    *, user: User, data: Any, idempotency_key: str | None = None, context: RequestContext = SYSTEM
) -> tuple[Workflow, bool]:
    """Create a workflow from request-shaped `data`; returns it and whether it is new.

    With an `idempotency_key`, a repeat of the same request returns the workflow created the first
    time; the same key with a different body is a conflict.
    """
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise ServiceError(
                "Idempotency-Key must be 1 to 255 characters.", fields={"Idempotency-Key": ["1 to 255 characters."]}
            )
        request_hash = _request_hash(data)
        existing = _idempotent_replay(user, idempotency_key, request_hash)
        if existing is not None:
            return existing, False
    # The creation time is also where a calendar rule without start_at starts: validated from it.
    now = timezone.now()
    fields = clean_create(data, now=now)
    try:
        with transaction.atomic():
            _check_workflow_quota(user)
            workflow = Workflow(
                user=user, created_at=now, **fields, **_dependency(user, fields["schedule"], workflow_id=None)
            )
            # Everything known before the row exists goes in with it, in one INSERT.
            workflow.ping_key_digest = ping_digest(workflow)
            if workflow.kind != WorkflowKind.CONTAINER:
                workflow.build_status = BuildStatus.COMPLETED
                workflow.next_run_at = workflow_plan(workflow).first_run(now)
            workflow.save(force_insert=True)
            if idempotency_key is not None:
                IdempotencyKey.objects.create(
                    user=user, key=idempotency_key, request_hash=request_hash, workflow=workflow
                )
            if workflow.kind == WorkflowKind.CONTAINER:
                _queue_build(workflow)
            _audit(workflow, "created", context, name=workflow.name, kind=workflow.kind)
            workflow_notify(
                workflow,
                NotificationKind.WORKFLOW_CREATED,
                workflow_kind=workflow.kind,
                interval=workflow.interval,
                schedule=workflow.schedule,
            )
            workflow_changed(workflow.pk)
    except IntegrityError:
        # Two requests with the same key raced; the other one committed first.
        if idempotency_key is None:
            raise
        existing = _idempotent_replay(user, idempotency_key, request_hash)
        if existing is None:
            raise
        return existing, False
    return workflow, True


# How far a chain of dependencies is followed when looking for a loop (a longer one is refused too).
MAX_CHAIN = 100


def _dependency(user: User, schedule: dict | None, *, workflow_id) -> dict:
    """The upstream columns of a schedule: for `{"after": id, "on": ...}`, the user's own workflow
    `id`, refused if following its own upstreams leads back to this workflow (a loop)."""
    if not schedule or "after" not in schedule:
        return {"upstream": None, "upstream_on": ""}
    # Another user's workflow is refused exactly as a missing one: its existence is not revealed.
    upstream = Workflow.objects.filter(user=user, pk=schedule["after"]).first()
    if upstream is None:
        raise ServiceError.invalid({"schedule.after": ["No workflow of yours has this id."]})
    # Up the chain from the new upstream: reaching this workflow means a loop.
    seen: set = set()
    step: UUID | None = upstream.pk
    while step is not None:
        if step == workflow_id:
            raise ServiceError.invalid({"schedule.after": ["This dependency would make a loop."]})
        if step in seen or len(seen) >= MAX_CHAIN:
            raise ServiceError.invalid({"schedule.after": [f"Chains are limited to {MAX_CHAIN} workflows."]})
        seen.add(step)
        step = Workflow.objects.filter(pk=step).values_list("upstream_id", flat=True).first()
    return {"upstream": upstream, "upstream_on": schedule["on"]}


def _idempotent_replay(user: User, key: str, request_hash: str) -> Workflow | None:
    record = IdempotencyKey.objects.select_related("workflow").filter(user=user, key=key).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise ServiceError("This Idempotency-Key was used with a different request body.", code="conflict")
    return record.workflow


def _rescheduled_next_run(workflow: Workflow, old_interval: int | None, now: datetime) -> datetime | None:
    """next_run_at after a timing change: an interval keeps its last slot, a calendar starts afresh."""
    plan = workflow_plan(workflow)
    if workflow.interval is not None and old_interval is not None and workflow.next_run_at is not None:
        previous_slot = workflow.next_run_at - timedelta(minutes=old_interval)
        return max(now, previous_slot + timedelta(minutes=workflow.interval))
    return plan.first_run(now)


def workflow_update(*, workflow: Workflow, data: Any, context: RequestContext = SYSTEM) -> Workflow:
    """Apply a partial update. A CONTAINER payload change starts a new build."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().select_related("user").get(pk=workflow.pk)
        if workflow.is_terminated:
            raise ServiceError("A terminated workflow cannot be changed.", code="conflict")
        old_interval = workflow.interval
        changes = clean_update(current_fields(workflow), data)
        if not changes:
            return workflow
        columns = dict(changes)
        if "schedule" in changes:
            columns.update(_dependency(workflow.user, changes["schedule"], workflow_id=workflow.pk))
        for name, value in columns.items():
            setattr(workflow, name, value)
        if "payload" in changes:
            # Becoming (or ceasing to be) a ping workflow issues (or withdraws) its key.
            columns["ping_key_digest"] = workflow.ping_key_digest = ping_digest(workflow)
        workflow.save(update_fields=[*columns, "updated_at"])
        if workflow.kind == WorkflowKind.CONTAINER and "payload" in changes:
            _queue_build(workflow)
        elif {"interval", "schedule", "timezone"} & set(changes) and workflow.build_status == BuildStatus.COMPLETED:
            workflow.next_run_at = _rescheduled_next_run(workflow, old_interval, timezone.now())
            workflow.save(update_fields=["next_run_at", "updated_at"])
        changed = sorted(changes)
        _audit(workflow, "updated", context, changes=changed)
        workflow_notify(workflow, NotificationKind.WORKFLOW_UPDATED, changes=changed)
        workflow_changed(workflow.pk)
    return workflow


def workflow_rebuild(*, workflow: Workflow, context: RequestContext = SYSTEM) -> WorkflowBuild:
    """Build a CONTAINER workflow's image again (after fixing a registry, or to refresh a tag)."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().select_related("user").get(pk=workflow.pk)
        if workflow.kind != WorkflowKind.CONTAINER:
            raise ServiceError("Only CONTAINER workflows have a build.", code="conflict")
        if workflow.is_terminated:
            raise ServiceError("A terminated workflow cannot be rebuilt.", code="conflict")
        build = _queue_build(workflow)
        _audit(workflow, "rebuilt", context, generation=build.generation)
    return build


def workflow_pause(*, workflow: Workflow, context: RequestContext = SYSTEM) -> Workflow:
    """Stop automatic runs until resumed; manual runs still work, a running job finishes.
    Pausing a paused workflow changes nothing; a terminated one is a conflict."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().select_related("user").get(pk=workflow.pk)
        if workflow.is_terminated:
            raise ServiceError("A terminated workflow cannot be paused.", code="conflict")
        if workflow.is_paused:
            return workflow
        workflow.paused_at = timezone.now()
        workflow.save(update_fields=["paused_at", "updated_at"])
        _audit(workflow, "paused", context)
        workflow_notify(workflow, NotificationKind.WORKFLOW_PAUSED)
        workflow_changed(workflow.pk)
    return workflow


def workflow_resume(*, workflow: Workflow, context: RequestContext = SYSTEM) -> Workflow:
    """Run automatically again, on the workflow's own grid from now: the slots that passed while
    it was paused are not run. Resuming a running workflow changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().select_related("user").get(pk=workflow.pk)
        if workflow.is_terminated:
            raise ServiceError("A terminated workflow cannot be resumed.", code="conflict")
        if not workflow.is_paused:
            return workflow
        workflow.paused_at = None
        if workflow.next_run_at is not None and workflow.next_run_at <= now:
            workflow.next_run_at = workflow_plan(workflow).next_run(workflow.next_run_at, now)
        workflow.save(update_fields=["paused_at", "next_run_at", "updated_at"])
        _audit(workflow, "resumed", context)
        workflow_notify(workflow, NotificationKind.WORKFLOW_RESUMED)
        workflow_changed(workflow.pk)
        if workflow.next_run_at is None and workflow.build_status == BuildStatus.COMPLETED and workflow.runs_on_clock:
            # Its last slot (a one-time `at`, or the last before end_at) passed while it was paused.
            workflow = workflow_terminate(workflow=workflow, reason=TerminationReason.SCHEDULE_ENDED)
    return workflow


def workflow_rotate_ping_key(*, workflow: Workflow, context: RequestContext = SYSTEM) -> Workflow:
    """Issue a new ping key: the old `ping_url` answers 404 from this commit on."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().select_related("user").get(pk=workflow.pk)
        if not workflow.is_ping:
            raise ServiceError("Only a ping workflow has a ping key.", code="conflict")
        if workflow.is_terminated:
            raise ServiceError("A terminated workflow takes no pings.", code="conflict")
        workflow.ping_key_generation += 1
        workflow.ping_key_digest = ping_digest(workflow)
        workflow.save(update_fields=["ping_key_generation", "ping_key_digest", "updated_at"])
        _audit(workflow, "ping_key_rotated", context, generation=workflow.ping_key_generation)
    return workflow


def workflow_terminate(
    *, workflow: Workflow, reason: str = TerminationReason.MANUAL, context: RequestContext = SYSTEM
) -> Workflow:
    """Stop a workflow for good. Terminating an already terminated workflow changes nothing.
    Its unfinished jobs are the jobs app's to cancel (jobs.services.workflow_stop)."""
    now = timezone.now()
    with transaction.atomic():
        stopped = Workflow.objects.filter(pk=workflow.pk, terminated_at__isnull=True).update(
            terminated_at=now, termination_reason=reason, next_run_at=None, updated_at=now
        )
        workflow = Workflow.objects.select_related("user").get(pk=workflow.pk)
        if not stopped:
            return workflow
        builds = WorkflowBuild.objects.filter(workflow=workflow, status__in=[BuildStatus.QUEUED, BuildStatus.STARTED])
        if builds.update(status=BuildStatus.CANCELED, finished_at=now):
            Workflow.objects.filter(pk=workflow.pk).update(build_status=BuildStatus.CANCELED)
            workflow.build_status = BuildStatus.CANCELED
        _audit(workflow, "terminated", context, reason=reason)
        workflow_notify(
            workflow,
            NotificationKind.WORKFLOW_TERMINATED,
            reason=reason,
            failure_count=workflow.consecutive_job_failures_count,
        )
        workflow_changed(workflow.pk)
    return workflow


def workflow_delete(*, workflow: Workflow, context: RequestContext = SYSTEM) -> None:
    """Terminate, then remove the workflow and its built images. Its jobs go with it: the jobs app
    removes them first, in bulk (jobs.services.workflow_remove)."""
    workflow = workflow_terminate(workflow=workflow, reason=TerminationReason.DELETED, context=context)
    with transaction.atomic():
        _audit(workflow, "deleted", context, name=workflow.name)
        workflow_id = str(workflow.id)
        workflow_deleted(user_id=workflow.user_id, workflow_id=workflow_id)
        built = workflow.builds.exclude(image_ref="").exists() or bool(workflow.payload.get("dockerfile"))
        workflow.delete()
        if built:
            # From every host's engine: each that ran one of its jobs pulled its image.
            transaction.on_commit(
                lambda: hosts.send_to_each_host(task_queue.REMOVE_WORKFLOW_IMAGES, workflow_id), robust=True
            )


def workflow_record_job_outcome(*, workflow_id, succeeded: bool) -> Workflow:
    """Track consecutive failures: reset on success; on failure count, warn one before the limit,
    and terminate the workflow when the limit is reached."""
    if succeeded:
        if Workflow.objects.filter(pk=workflow_id, consecutive_job_failures_count__gt=0).update(
            consecutive_job_failures_count=0, updated_at=timezone.now()
        ):
            workflow_changed(workflow_id)
        return Workflow.objects.get(pk=workflow_id)
    with transaction.atomic():
        Workflow.objects.filter(pk=workflow_id).update(
            consecutive_job_failures_count=F("consecutive_job_failures_count") + 1, updated_at=timezone.now()
        )
        workflow = Workflow.objects.select_related("user").get(pk=workflow_id)
        workflow_changed(workflow_id)
        count, limit = workflow.consecutive_job_failures_count, workflow.max_consecutive_job_failures_allowed
        if workflow.is_terminated:
            return workflow
        if count >= limit:
            return workflow_terminate(workflow=workflow, reason=TerminationReason.CONSECUTIVE_FAILURES)
        if count == limit - 1:
            workflow_notify(
                workflow,
                NotificationKind.SYSTEM_ALERT,
                reason="consecutive_failures_threshold_near",
                failure_count=count,
                max_consecutive_job_failures_allowed=limit,
                message=f"{count} consecutive failures: one more terminates the workflow.",
            )
    return workflow
