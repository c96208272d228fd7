"""Writes of the jobs app: the life of a job, from dispatch to its outcome.

Every status change is a conditional UPDATE that names the status it moves from, so a change
from the wrong state matches no row and does nothing: two workers, a reaper and a user clicking
cancel can race on the same job without overwriting each other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.services import SYSTEM, RequestContext, audit_record
from chronoverse import hosts, task_queue
from chronoverse.errors import ServiceError
from chronoverse.redis_client import publish_many
from chronoverse.serializers import format_timestamp
from jobs import client_events
from jobs.logs import log_channel
from jobs.models import (
    CLIENT_WORKER,
    PING_WORKER,
    UNFINISHED,
    WAITING_WORKERS,
    ClientDelivery,
    Job,
    JobLog,
    JobStatus,
    JobTrigger,
)
from jobs.outcome import Outcome, UserAtCapacity
from jobs.rollups import atomic_with_rollups, rollups_add_finished, rollups_delete_for_workflow
from notifications.models import Notification, NotificationKind
from notifications.relay import client_channel, dashboard_channel
from notifications.services import notification_copy_many, notification_create, notification_publish_many
from workflows.models import (
    BuildStatus,
    ConcurrencyPolicy,
    DependencyOutcome,
    TerminationReason,
    Workflow,
    WorkflowKind,
    ack_timeout,
    is_ping,
    ping_grace,
)
from workflows.services import workflow_delete, workflow_record_job_outcome, workflow_terminate

logger = logging.getLogger(__name__)

# Bare heartbeats (`{}`) need no task of their own: they are completed in batches of this size.
HEARTBEAT_BATCH = 500


def is_bare_heartbeat(kind: str, payload: dict) -> bool:
    return kind == WorkflowKind.HEARTBEAT and not payload.get("endpoint") and not is_ping(kind, payload)


def _job_payload(job: Job, **extra) -> dict:
    return {"job_id": str(job.id), "workflow_id": str(job.workflow_id), "workflow_name": job.workflow.name, **extra}


def job_status_data(job: Job) -> dict:
    """The Job resource as the API shows it (also what live followers receive as `status`)."""
    return {
        "id": str(job.id),
        "workflow_id": str(job.workflow_id),
        "status": job.status,
        "trigger": job.trigger,
        "scheduled_at": format_timestamp(job.scheduled_at),
        "started_at": format_timestamp(job.started_at),
        "completed_at": format_timestamp(job.completed_at),
        "duration_seconds": job.duration_seconds,
        "exit_code": job.exit_code,
        "error": job.error,
        "attempt": job.attempt,
        "upstream_job_id": str(job.upstream_job_id) if job.upstream_job_id else None,
        "created_at": format_timestamp(job.created_at),
        "updated_at": format_timestamp(job.updated_at),
    }


def job_message(job: Job, data: dict | None = None) -> dict:
    """A job's change as the dashboard socket carries it: the Job resource and its workflow's name."""
    return {"type": "job", "job": {**(data or job_status_data(job)), "workflow_name": job.workflow.name}}


def _announce_many(jobs: list[Job], *, followers: bool = True) -> None:
    """After commit, one round trip to Redis tells everyone who follows these jobs their new
    status: live log followers (SSE, WebSocket, CLI: `status`, and `end` once finished) unless
    `followers` is False, tag listeners, and the user's dashboard pages. The jobs come with their
    workflow loaded."""
    messages: list[tuple[str, str]] = []
    one_by_one = len(jobs) <= DASHBOARD_JOB_MESSAGES
    for job in jobs:
        data = job_status_data(job)
        if followers:
            messages.append((log_channel(job.pk), json.dumps({"event": "status", "data": data})))
            if job.is_finished:
                messages.append((log_channel(job.pk), json.dumps({"event": "end", "data": data})))
        tagged = client_events.tag_envelope(job, data)
        if tagged is not None:
            messages.append((client_channel(tagged[0]), tagged[1]))
        if one_by_one:
            messages.append((dashboard_channel(job.user_id), json.dumps(job_message(job, data))))
    if not one_by_one:
        messages += _jobs_messages((job.user_id, job.workflow_id) for job in jobs)
    if messages:
        transaction.on_commit(lambda: publish_many(messages, what="job events"), robust=True)


# A batch of more jobs than this (a tick's dispatch, a batch of heartbeats or pings) reaches the
# dashboards as one `jobs` message per user naming the workflows concerned, not one per job: a
# page only re-reads its regions on either, and 10,000 messages would cost more than the batch.
DASHBOARD_JOB_MESSAGES = 50


def _jobs_messages(jobs: Iterable[tuple[Any, Any]]) -> list[tuple[str, str]]:
    """One dashboard `jobs` message per user, from (user id, workflow id) pairs."""
    by_user: dict[Any, set[str]] = {}
    for user_id, workflow_id in jobs:
        by_user.setdefault(user_id, set()).add(str(workflow_id))
    return [
        (dashboard_channel(user_id), json.dumps({"type": "jobs", "workflow_ids": sorted(workflow_ids)}))
        for user_id, workflow_ids in by_user.items()
    ]


def _announce(job: Job) -> None:
    _announce_many([job])


def _announce_ids(job_ids: list) -> None:
    """After commit, tell tag listeners and dashboard pages the status these jobs just took (one
    query). Live log followers need not hear of a job being queued."""
    if job_ids:
        _announce_many(list(Job.objects.select_related("workflow").filter(pk__in=job_ids)), followers=False)


# -- dispatch ----------------------------------------------------------------------------------


def job_dispatch(*, job_ids: list) -> int:
    """Move PENDING jobs to QUEUED and hand them to workers; returns how many were dispatched."""
    rows = list(
        Job.objects.filter(pk__in=job_ids, status=JobStatus.PENDING).values_list(
            "pk", "workflow__kind", "workflow__payload", "workflow__tags", "workflow_id", "user_id"
        )
    )
    return jobs_dispatch_rows(rows)


def jobs_dispatch_rows(rows: list[tuple]) -> int:
    """job_dispatch for callers that already hold each job's (id, kind, payload, tags, workflow id,
    user id): the tick,
    which read them with the due workflows a moment ago, saves reading them again. Every move is
    conditional on the job still being PENDING, so a job dispatched meanwhile is left alone."""
    if not rows:
        return 0
    now = timezone.now()
    # A ping workflow's slot goes to no worker: it waits RUNNING until a ping or its deadline.
    by_grace: dict[int, list] = {}
    for pk, kind, payload, *_ in rows:
        if is_ping(kind, payload):
            by_grace.setdefault(ping_grace(payload), []).append(pk)
    for grace, ids in by_grace.items():
        Job.objects.filter(pk__in=ids, status=JobStatus.PENDING).update(
            status=JobStatus.RUNNING,
            worker=PING_WORKER,
            lease_expires_at=F("scheduled_at") + timedelta(seconds=grace),
            updated_at=now,
        )
    # Nor does a WEBSOCKET job: it waits RUNNING for a client's ack (it announces itself).
    waiting = [pk for pk, kind, *_ in rows if kind == WorkflowKind.WEBSOCKET]
    clients_wait(job_ids=waiting, now=now)
    jobs = [
        (pk, kind, payload)
        for pk, kind, payload, *_ in rows
        if not is_ping(kind, payload) and kind != WorkflowKind.WEBSOCKET
    ]
    Job.objects.filter(pk__in=[pk for pk, _, _ in jobs], status=JobStatus.PENDING).update(
        status=JobStatus.QUEUED, updated_at=now
    )
    # Before the jobs go to workers, so that no listener hears RUNNING before QUEUED. A WEBSOCKET
    # job announced itself (clients_wait). Tag listeners hear of each job; a large batch of
    # untagged ones is one dashboard message per user, made from the rows without reading the jobs.
    announced = [row for row in rows if row[1] != WorkflowKind.WEBSOCKET]
    untagged = [row for row in announced if not row[3]]
    if len(untagged) > DASHBOARD_JOB_MESSAGES:
        _announce_ids([row[0] for row in announced if row[3]])
        messages = _jobs_messages((user_id, workflow_id) for *_, workflow_id, user_id in untagged)
        transaction.on_commit(lambda: publish_many(messages, what="job events"), robust=True)
    else:
        _announce_ids([row[0] for row in announced])
    jobs_send(jobs)
    return len(jobs) + sum(len(ids) for ids in by_grace.values()) + len(waiting)


def clients_wait(*, job_ids: list, now: datetime) -> None:
    """PENDING WEBSOCKET jobs start waiting for an ack (RUNNING, lease = now + ack_timeout), and
    their event goes to the connected clients of their name once this commits (jobs.clients)."""
    if not job_ids:
        return
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("workflow", "user")
            .filter(pk__in=job_ids, status=JobStatus.PENDING)
        )
        by_timeout: dict[int, list] = {}
        for job in jobs:
            by_timeout.setdefault(ack_timeout(job.workflow.payload), []).append(job.pk)
        for seconds, ids in by_timeout.items():
            Job.objects.filter(pk__in=ids).update(
                status=JobStatus.RUNNING,
                worker=CLIENT_WORKER,
                started_at=now,
                lease_expires_at=now + timedelta(seconds=seconds),
                updated_at=now,
            )
        ClientDelivery.objects.bulk_create(
            [ClientDelivery(job=job, client_name=job.workflow.payload["client_name"]) for job in jobs],
            ignore_conflicts=True,
        )
        outgoing = []
        for job in jobs:
            job.status, job.worker, job.started_at, job.updated_at = JobStatus.RUNNING, CLIENT_WORKER, now, now
            job.lease_expires_at = now + timedelta(seconds=ack_timeout(job.workflow.payload))
            notification_create(
                user=job.user,
                kind=NotificationKind.JOB_STARTED,
                payload=_job_payload(job, trigger=job.trigger, scheduled_at=format_timestamp(job.scheduled_at)),
            )
            _announce(job)
            event = client_events.client_event(job, job.workflow)
            outgoing.append(
                client_events.hook_envelope(
                    job.user_id, job.workflow.payload["client_name"], event, job.lease_expires_at.timestamp()
                )
            )
        client_events.publish_on_commit(outgoing)


def jobs_send(jobs: list[tuple]) -> None:
    """Send (id, kind, payload) QUEUED jobs to workers: bare heartbeats in batches, the rest a task each.
    Sending twice is harmless: a worker claims a job only while it is QUEUED."""
    bare = [str(pk) for pk, kind, payload in jobs if is_bare_heartbeat(kind, payload)]
    for start in range(0, len(bare), HEARTBEAT_BATCH):
        task_queue.send(task_queue.RUN_HEARTBEATS, bare[start : start + HEARTBEAT_BATCH])
    for pk, kind, payload in jobs:
        if not is_bare_heartbeat(kind, payload):
            task_queue.send(task_queue.EXECUTE_JOB, str(pk))


def job_run_manually(*, workflow: Workflow, user: User, context: RequestContext = SYSTEM) -> Job:
    """Run a workflow now, outside its schedule."""
    if workflow.is_terminated:
        raise ServiceError("The workflow is terminated.", code="conflict")
    if workflow.build_status != BuildStatus.COMPLETED:
        raise ServiceError(f"The workflow's build is {workflow.build_status}, not COMPLETED.", code="conflict")
    if _running_jobs(workflow.user_id) >= settings.MAX_RUNNING_JOBS_PER_USER:
        raise ServiceError(
            f"{settings.MAX_RUNNING_JOBS_PER_USER} of your jobs are running, the most allowed at once; "
            "try again when one ends.",
            code="rate_limited",
            retry_after=5,
        )
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.create(
            workflow=workflow,
            user=workflow.user,
            trigger=JobTrigger.MANUAL,
            scheduled_at=now,
            created_at=now,
            updated_at=now,
        )
        audit_record(
            user=user, action="job.manual_run", context=context, target=job, details={"workflow_id": str(workflow.id)}
        )
        transaction.on_commit(lambda: job_dispatch(job_ids=[job.id]), robust=True)
    return job


# -- running -----------------------------------------------------------------------------------


def _running_jobs(user_id) -> int:
    """The user's jobs that hold a worker: one waiting for a ping or a client's ack holds none."""
    return Job.objects.filter(user_id=user_id, status=JobStatus.RUNNING).exclude(worker__in=WAITING_WORKERS).count()


def job_claim(*, job_id, worker: str, host: str = "") -> Job | None:
    """QUEUED -> RUNNING for this worker on `host` (whose engine will hold its container), with a
    fresh lease; None if someone else has it. Raises UserAtCapacity (the job stays QUEUED) while
    its user has the most jobs running allowed."""
    now = timezone.now()
    with transaction.atomic():
        user_id = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).values_list("user_id", flat=True).first()
        if user_id is None:
            return None
        # One user's claims take turns (an advisory lock on the user), so the count cannot be raced past.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"running-jobs:{user_id}"])
        if _running_jobs(user_id) >= settings.MAX_RUNNING_JOBS_PER_USER:
            raise UserAtCapacity(str(user_id))
        claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING,
            started_at=now,
            worker=worker,
            host=host,
            lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
            updated_at=now,
        )
        if not claimed:
            return None
        job = Job.objects.select_related("workflow", "user").get(pk=job_id)
        notification_create(
            user=job.user,
            kind=NotificationKind.JOB_STARTED,
            payload=_job_payload(job, trigger=job.trigger, scheduled_at=format_timestamp(job.scheduled_at)),
        )
        _announce(job)
    return job


def job_renew_lease(*, job_id, worker: str) -> bool:
    """Extend a running job's lease; False once the job is no longer this worker's (e.g. canceled)."""
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, worker=worker).update(
            lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS)
        )
    )


def _ran_for(job: Job, now) -> float | None:
    """Seconds since the job started, for a job that ends without an outcome of its own."""
    return (now - job.started_at).total_seconds() if job.started_at else None


def _held(job: Job, from_status: str, worker: str | None) -> dict:
    """The condition that this caller still holds the job: its status and, for a worker, the claim."""
    return {"pk": job.pk, "status": from_status, **({"worker": worker} if worker is not None else {})}


def job_finish(*, job: Job, outcome: Outcome, from_status: str = JobStatus.RUNNING, worker: str | None = None) -> bool:
    """Record the outcome of a running job; False if it was no longer running (canceled, reaped) or,
    given `worker`, no longer that worker's (its lease expired and the job was taken over)."""
    now = timezone.now()
    started = job.started_at or now
    duration = max(0.0, (now - started).total_seconds())
    status = JobStatus.COMPLETED if outcome.succeeded else JobStatus.FAILED
    with atomic_with_rollups():
        # A cancel requested meanwhile wins: the container was (or is being) stopped for it.
        if not Job.objects.filter(**_held(job, from_status, worker), cancel_requested_at__isnull=True).update(
            status=status,
            completed_at=now,
            duration_seconds=duration,
            exit_code=outcome.exit_code,
            error=outcome.error,
            lease_expires_at=None,
            updated_at=now,
        ):
            return job_cancel_complete(job=job, from_status=from_status, worker=worker)
        job.status, job.completed_at, job.duration_seconds = status, now, duration
        job.exit_code, job.error, job.updated_at = outcome.exit_code, outcome.error, now
        extra = {"status": status, "duration_seconds": duration}
        if outcome.succeeded:
            notification_create(user=job.user, kind=NotificationKind.JOB_COMPLETED, payload=_job_payload(job, **extra))
        else:
            notification_create(
                user=job.user, kind=NotificationKind.JOB_FAILED, payload=_job_payload(job, error=outcome.error, **extra)
            )
        _announce(job)
        _start_dependents([job])
        _after_outcome(job, succeeded=outcome.succeeded)
        rollups_add_finished([job.pk])
    return True


def _after_outcome(job: Job, *, succeeded: bool) -> None:
    """What a job's outcome does to its workflow: the failure count (which may terminate it; its
    other jobs are then canceled), or the end of its schedule."""
    # The outcome's workflow is freshly loaded: the checks below need no second read.
    workflow = workflow_record_job_outcome(workflow_id=job.workflow_id, succeeded=succeeded)
    if workflow.is_terminated:
        _cancel_jobs_of_stopped(workflow)
    else:
        _end_schedule_if_done(workflow)


def _end_schedule_if_done(workflow: Workflow) -> None:
    """A schedule with no slot left (a one-time `at`, or past end_at) ends once its last run is over,
    however that run ended (completed, failed, canceled, given up). `workflow` must be current."""
    if (
        not workflow.is_terminated
        and workflow.runs_on_clock
        and workflow.next_run_at is None
        and workflow.build_status == BuildStatus.COMPLETED
        and not Job.objects.filter(workflow_id=workflow.pk, status__in=UNFINISHED).exists()
    ):
        workflow_terminate(workflow=workflow, reason=TerminationReason.SCHEDULE_ENDED)


def job_retry_or_fail(
    *,
    job: Job,
    reason: str,
    from_status: str = JobStatus.RUNNING,
    worker: str | None = None,
    dispatch: bool = True,
    avoid_host: str = "",
) -> str:
    """After an infrastructure failure: queue another attempt, or give up after JOB_MAX_ATTEMPTS.

    Either way the workflow's failure counter is left alone: the job did not fail, the platform did.
    The new attempt goes to a live host other than `avoid_host` when there is one (that host could
    not run it), else to any. Without `dispatch` it waits QUEUED for job_retry_send (sent once the
    lost attempt's container is known to be dead) or, failing that, for the reaper's re-send of
    unclaimed jobs. Returns the job's new status ('' if it had already moved on).
    """
    now = timezone.now()
    if job_cancel_complete(job=job, from_status=from_status, worker=worker):
        return JobStatus.CANCELED  # the user wanted it stopped, not retried
    with atomic_with_rollups():
        if job.attempt < settings.JOB_MAX_ATTEMPTS:
            if not Job.objects.filter(**_held(job, from_status, worker), cancel_requested_at__isnull=True).update(
                status=JobStatus.QUEUED,
                attempt=F("attempt") + 1,
                worker="",
                lease_expires_at=None,
                error=reason,
                updated_at=now,
            ):
                return ""
            if dispatch:
                job_retry_send(job_id=job.pk, attempt=job.attempt + 1, avoid_host=avoid_host)
            _announce_ids([job.pk])
            return JobStatus.QUEUED
        if not Job.objects.filter(**_held(job, from_status, worker), cancel_requested_at__isnull=True).update(
            status=JobStatus.FAILED,
            completed_at=now,
            lease_expires_at=None,
            infrastructure_failure=True,
            error=f"{reason} (gave up after {job.attempt} attempts)",
            updated_at=now,
            duration_seconds=_ran_for(job, now),
        ):
            return ""
        job.refresh_from_db()
        _start_dependents([job])
        notification_create(
            user=job.user,
            kind=NotificationKind.JOB_FAILED,
            payload=_job_payload(job, status=job.status, error=job.error, duration_seconds=job.duration_seconds),
        )
        notification_create(
            user=job.user,
            kind=NotificationKind.SYSTEM_ALERT,
            payload=_job_payload(job, reason="infrastructure_failure", error=job.error),
        )
        _announce(job)
        _end_schedule_if_done(Workflow.objects.get(pk=job.workflow_id))
        rollups_add_finished([job.pk])
    return JobStatus.FAILED


def job_retry_send(*, job_id, attempt: int, avoid_host: str = "") -> None:
    """Hand a retry (its `attempt`) to a worker once this commits, after a backoff: to a live host
    other than `avoid_host` if there is one, else to the jobs queue. Sending twice is harmless."""
    other = hosts.host_other_than(avoid_host) if avoid_host else None
    task_queue.send_on_commit(
        task_queue.EXECUTE_JOB,
        str(job_id),
        countdown=min(60, 2 ** (attempt - 1)),
        queue=task_queue.host_queue(other) if other else None,
    )


# -- dependencies ------------------------------------------------------------------------------


def _start_dependents(finished: list[Job]) -> None:
    """Create the jobs that `finished` (jobs just COMPLETED or FAILED, in this transaction) start
    in the workflows that depend on theirs, and dispatch them once it commits.

    One set-based pass: a query for the dependents, one for their active jobs, one INSERT. The
    unique key (workflow, upstream_job) makes a second pass for the same upstream job (a retried
    finish, a reaper's takeover, a racing worker) insert nothing. A paused, terminated or unbuilt
    dependent is not started; its concurrency policy applies as for a clock slot.
    """
    dependents = list(
        Workflow.objects.filter(
            upstream_id__in={job.workflow_id for job in finished},
            terminated_at__isnull=True,
            paused_at__isnull=True,
            build_status=BuildStatus.COMPLETED,
        ).only("id", "user_id", "upstream_id", "upstream_on", "concurrency_policy")
    )
    if not dependents:
        return
    busy = workflows_busy([w.pk for w in dependents])
    rows: list[tuple] = []
    to_replace: list = []
    for job in finished:
        for workflow in dependents:
            if workflow.upstream_id != job.workflow_id:
                continue
            if workflow.upstream_on not in (job.status, DependencyOutcome.FINISHED):
                continue
            if not run_admitted(workflow, busy, to_replace):
                logger.info("workflow %s: not started by job %s, a run is still active", workflow.pk, job.pk)
                continue
            rows.append((uuid.uuid4(), workflow.pk, workflow.user_id, job.completed_at, job.pk))
    jobs_replace(to_replace)
    created = jobs_insert_pending(rows, trigger=JobTrigger.DEPENDENCY)
    if created:
        transaction.on_commit(lambda: job_dispatch(job_ids=created), robust=True)


# -- starting runs: what the tick and dependencies share ---------------------------------------


def workflows_busy(workflow_ids: list) -> set:
    """Which of these workflows have a run in progress (a slot waiting for its ping is not one:
    the next slot waits beside it)."""
    return set(
        Job.objects.filter(workflow_id__in=workflow_ids, status__in=UNFINISHED)
        .exclude(worker=PING_WORKER)
        .values_list("workflow_id", flat=True)
        .distinct()
    )


class Admissible(Protocol):
    """What admission reads of a workflow: a Workflow, or the tick's row of one."""

    @property
    def pk(self) -> Any: ...
    @property
    def concurrency_policy(self) -> str: ...


def run_admitted(workflow: Admissible, busy: set, to_replace: list) -> bool:
    """The workflow's concurrency policy on a new run: FORBID refuses it while one is in progress,
    REPLACE notes that one for jobs_replace, ALLOW starts it beside. An admitted run is in progress."""
    if workflow.pk in busy:
        if workflow.concurrency_policy == ConcurrencyPolicy.FORBID:
            return False
        if workflow.concurrency_policy == ConcurrencyPolicy.REPLACE:
            to_replace.append(workflow.pk)
    busy.add(workflow.pk)
    return True


def jobs_replace(workflow_ids: list) -> None:
    """Cancel the runs in progress that REPLACE admissions displace."""
    if not workflow_ids:
        return
    for job in Job.objects.select_related("workflow", "user").filter(
        workflow_id__in=workflow_ids, status__in=UNFINISHED
    ):
        with contextlib.suppress(ServiceError):  # it may have finished on its own meanwhile
            job_cancel(job=job, canceled_by="system:replaced")


# Rows go in as arrays through unnest(): one statement with a few parameters, where Django's bulk
# methods would compile thousands of them (most of a tick's time at 10,000 due workflows).
def jobs_insert_pending(rows: list[tuple], *, trigger: str, now: datetime | None = None) -> list:
    """Insert PENDING jobs from (id, workflow_id, user_id, scheduled_at, upstream_job_id or None)
    rows; a row that a unique key already covers (a slot's job, an upstream job's dependent) is
    skipped. Returns the ids inserted."""
    if not rows:
        return []
    ids, workflow_ids, user_ids, slots, upstream_ids = (list(column) for column in zip(*rows, strict=True))
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Job._meta.db_table} (id, workflow_id, user_id, status, trigger, scheduled_at, error,
                attempt, worker, canceled_by, infrastructure_failure, upstream_job_id, created_at, updated_at)
            SELECT t.id, t.workflow_id, t.user_id, %s, %s, t.scheduled_at, '', 1, '', '', false,
                t.upstream_job_id, %s, %s
            FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::timestamptz[], %s::uuid[])
                AS t(id, workflow_id, user_id, scheduled_at, upstream_job_id)
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
            [JobStatus.PENDING, trigger, now, now, ids, workflow_ids, user_ids, slots, upstream_ids],
        )
        return [row[0] for row in cursor.fetchall()]


def waiting_jobs_expire(*, worker: str, error: Callable[[Job], str], now: datetime, limit: int = 1000) -> int:
    """Fail the jobs that wait under `worker` (for a ping, for a client's ack) past their deadline
    (the lease): one indexed query when there are none. Each failure counts toward its workflow's
    threshold and notifies like any other."""
    overdue = list(
        Job.objects.select_related("workflow", "user").filter(
            status=JobStatus.RUNNING, worker=worker, lease_expires_at__lt=now
        )[:limit]
    )
    return sum(job_finish(job=job, outcome=Outcome(False, error(job)), worker=worker) for job in overdue)


# -- heartbeats in bulk ------------------------------------------------------------------------


def heartbeats_complete(*, job_ids: list) -> int:
    """Run bare heartbeats: each completes at once, so a batch is a handful of statements in all."""
    now = timezone.now()
    with atomic_with_rollups():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("workflow", "user")
            .filter(pk__in=job_ids, status=JobStatus.QUEUED)
        )
        if not jobs:
            return 0
        Job.objects.filter(pk__in=[j.pk for j in jobs]).update(
            status=JobStatus.COMPLETED,
            started_at=now,
            completed_at=now,
            duration_seconds=0.0,
            exit_code=None,
            updated_at=now,
        )
        notifications = []
        for job in jobs:
            job.status, job.started_at, job.completed_at, job.duration_seconds = JobStatus.COMPLETED, now, now, 0.0
            started = _job_payload(job, trigger=job.trigger, scheduled_at=format_timestamp(job.scheduled_at))
            done = _job_payload(job, status=JobStatus.COMPLETED, duration_seconds=0.0)
            notifications += [
                Notification(
                    user=job.user, kind=NotificationKind.JOB_STARTED, payload=started, created_at=now, updated_at=now
                ),
                # A microsecond later, so newest-first lists show the completion above the start.
                Notification(
                    user=job.user,
                    kind=NotificationKind.JOB_COMPLETED,
                    payload=done,
                    created_at=now + timedelta(microseconds=1),
                    updated_at=now,
                ),
            ]
        _completed_many(jobs, notifications)
    return len(jobs)


def held_jobs_complete(*, jobs: list[tuple[Job, int | None]], worker: str) -> list[Job]:
    """Complete many RUNNING jobs that `worker` holds, each with its exit code, in a few statements
    (the slots that a batch of pings settles). Returns those completed: a job canceled, reaped or
    already settled meanwhile is left as it is."""
    now = timezone.now()
    with atomic_with_rollups():
        held = set(
            Job.objects.select_for_update(of=("self",))
            .filter(
                pk__in=[job.pk for job, _ in jobs],
                status=JobStatus.RUNNING,
                worker=worker,
                cancel_requested_at__isnull=True,
            )
            .values_list("pk", flat=True)
        )
        done = []
        for job, exit_code in jobs:
            if job.pk not in held:
                continue
            held.discard(job.pk)  # one outcome per job
            job.status, job.completed_at, job.exit_code, job.error = JobStatus.COMPLETED, now, exit_code, ""
            job.duration_seconds = max(0.0, (now - (job.started_at or now)).total_seconds())
            job.lease_expires_at, job.updated_at = None, now
            done.append(job)
        if not done:
            return []
        fields = ["status", "completed_at", "exit_code", "error", "duration_seconds", "lease_expires_at", "updated_at"]
        Job.objects.bulk_update(done, fields)
        notifications = [
            Notification(
                user=job.user,
                kind=NotificationKind.JOB_COMPLETED,
                payload=_job_payload(job, status=JobStatus.COMPLETED, duration_seconds=job.duration_seconds),
                created_at=now,
                updated_at=now,
            )
            for job in done
        ]
        _completed_many(done, notifications)
    return done


def _completed_many(jobs: list[Job], notifications: list[Notification]) -> None:
    """What jobs completed together do beyond their own rows: their notifications (one COPY, pushed
    after commit), their dependents, their workflows' failure counts reset, their live events (tag
    listeners included), and the end of a schedule with no slot left."""
    notification_copy_many(notifications)
    _start_dependents(jobs)
    users = {job.user_id: job.user for job in jobs}
    transaction.on_commit(lambda: notification_publish_many(notifications, users), robust=True)
    Workflow.objects.filter(pk__in={j.workflow_id for j in jobs}, consecutive_job_failures_count__gt=0).update(
        consecutive_job_failures_count=0
    )
    _announce_many(jobs)
    for job in jobs:
        if job.workflow.next_run_at is None and job.workflow.runs_on_clock:
            _end_schedule_if_done(Workflow.objects.get(pk=job.workflow_id))
    rollups_add_finished([job.pk for job in jobs])


# -- canceling ---------------------------------------------------------------------------------


def job_cancel(
    *,
    job: Job,
    canceled_by: str,
    context: RequestContext = SYSTEM,
    user: User | None = None,
    wait: bool = False,
) -> Job:
    """Cancel a PENDING, QUEUED or RUNNING job; finished jobs are a conflict.

    A running CONTAINER job is reported CANCELED only once its container is gone: the cancel is
    recorded as requested, the worker holding the job stops the container (SIGTERM, SIGKILL after
    the grace) and then records CANCELED; the reaper does it if that worker was lost. With `wait`,
    return once that happened (or the grace and a margin passed). Other jobs are CANCELED at once.
    """
    now = timezone.now()
    with atomic_with_rollups():
        row = (
            Job.objects.select_for_update(of=("self",))
            .filter(pk=job.pk)
            .values_list("status", "workflow__kind", "cancel_requested_at")
            .first()
        )
        was, kind, requested = row or (None, None, None)
        if was not in UNFINISHED:
            raise ServiceError(f"The job is already {was or 'gone'}.", code="conflict")
        if was == JobStatus.RUNNING and kind == WorkflowKind.CONTAINER:
            if requested is None:
                Job.objects.filter(pk=job.pk).update(cancel_requested_at=now, canceled_by=canceled_by, updated_at=now)
                _audit_cancel(job, user, context, was)
        else:
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.CANCELED,
                canceled_by=canceled_by,
                completed_at=now,
                lease_expires_at=None,
                updated_at=now,
                duration_seconds=_ran_for(job, now) if was == JobStatus.RUNNING else None,
            )
            job = Job.objects.select_related("workflow", "user").get(pk=job.pk)
            _announce_canceled(job)
            _audit_cancel(job, user, context, was)
            rollups_add_finished([job.pk])
            return job
    if wait:
        _wait_until_finished(job.pk, timeout=settings.CONTAINER_STOP_GRACE_SECONDS + 15)
    return Job.objects.select_related("workflow", "user").get(pk=job.pk)


def job_cancel_by_user(*, job: Job, user: User, context: RequestContext = SYSTEM) -> Job:
    """A user's own cancel, from the API or the dashboard: in their name, and waiting until a
    running container is really gone, so that the answer tells the outcome."""
    return job_cancel(job=job, canceled_by=str(user.id), user=user, context=context, wait=True)


def _audit_cancel(job: Job, user: User | None, context: RequestContext, was: str) -> None:
    if user is not None:
        audit_record(user=user, action="job.canceled", context=context, target=job, details={"previous_status": was})


def _announce_canceled(job: Job) -> None:
    notification_create(
        user=job.user,
        kind=NotificationKind.JOB_CANCELED,
        payload=_job_payload(job, canceled_by=job.canceled_by, status=JobStatus.CANCELED),
    )
    _announce(job)
    _end_schedule_if_done(Workflow.objects.get(pk=job.workflow_id))


def _wait_until_finished(job_id, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Job.objects.filter(pk=job_id, status__in=UNFINISHED).exists():
            time.sleep(0.2)
        else:
            return


def job_cancel_complete(*, job: Job, from_status: str = JobStatus.RUNNING, worker: str | None = None) -> bool:
    """RUNNING -> CANCELED for a job whose cancel was requested, once its container is gone.
    False if there was no request, or the caller no longer holds the job."""
    now = timezone.now()
    with atomic_with_rollups():
        if not Job.objects.filter(**_held(job, from_status, worker), cancel_requested_at__isnull=False).update(
            status=JobStatus.CANCELED,
            completed_at=now,
            lease_expires_at=None,
            updated_at=now,
            duration_seconds=_ran_for(job, now),
        ):
            return False
        _announce_canceled(Job.objects.select_related("workflow", "user").get(pk=job.pk))
        rollups_add_finished([job.pk])
    return True


def job_cancel_unfinished_for_workflow(*, workflow: Workflow, canceled_by: str = "system") -> int:
    """Cancel every unfinished job of a workflow (it was terminated or deleted)."""
    count = 0
    for job in Job.objects.select_related("workflow", "user").filter(workflow=workflow, status__in=UNFINISHED):
        try:
            job_cancel(job=job, canceled_by=canceled_by)
            count += 1
        except ServiceError:
            pass  # it finished meanwhile
    return count


# -- a workflow's jobs when it stops --------------------------------------------------------------


def workflow_stop(
    *, workflow: Workflow, reason: str = TerminationReason.MANUAL, context: RequestContext = SYSTEM
) -> Workflow:
    """Terminate a workflow for good and cancel its unfinished jobs."""
    with atomic_with_rollups():
        workflow = workflow_terminate(workflow=workflow, reason=reason, context=context)
        _cancel_jobs_of_stopped(workflow)
    return workflow


def _cancel_jobs_of_stopped(workflow: Workflow) -> None:
    # A user's own termination cancels in their name; the platform's (failures, end of schedule) as system.
    by_user = workflow.termination_reason in (TerminationReason.MANUAL, TerminationReason.DELETED)
    job_cancel_unfinished_for_workflow(workflow=workflow, canceled_by=str(workflow.user_id) if by_user else "system")


def workflow_remove(*, workflow: Workflow, context: RequestContext = SYSTEM) -> None:
    """Stop a workflow, then delete it with its jobs, logs and built images."""
    workflow = workflow_stop(workflow=workflow, reason=TerminationReason.DELETED, context=context)
    with transaction.atomic():
        # A workflow running every minute has half a million jobs after a year: they go in two
        # set-based statements, never through Django's collector, which would load each one.
        jobs_delete_for_workflow(workflow_id=workflow.pk)
        # Its jobs stay counted in its user's rollups (analytics keep the history); its own rows go.
        rollups_delete_for_workflow(user_id=workflow.user_id, workflow_id=workflow.pk)
        workflow_delete(workflow=workflow, context=context)


def jobs_delete_for_workflow(*, workflow_id) -> None:
    """Delete a workflow's logs and client deliveries, then its jobs, each in one statement."""
    with connection.cursor() as cursor:
        for table in (JobLog._meta.db_table, ClientDelivery._meta.db_table):
            cursor.execute(
                f"DELETE FROM {table} WHERE job_id IN (SELECT id FROM {Job._meta.db_table} WHERE workflow_id = %s)",
                [workflow_id],
            )
        cursor.execute(f"DELETE FROM {Job._meta.db_table} WHERE workflow_id = %s", [workflow_id])
