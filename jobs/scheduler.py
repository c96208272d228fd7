"""The scheduler tick: due workflows become jobs, exactly once per slot.

A tick claims a batch of due workflows with `SELECT ... FOR UPDATE SKIP LOCKED`, so ticks running
at once (two beats by mistake, a slow tick overlapping the next) split the work instead of
repeating it. In one transaction it inserts the batch's jobs in one statement and moves every
workflow's next_run_at forward on its own grid in another; the unique (workflow, scheduled_at) key
of automatic jobs makes a repeated slot harmless even so. Jobs are handed to workers after commit.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chronoverse.errors import ServiceError
from jobs.models import PING_WORKER, UNFINISHED, Job, JobStatus, JobTrigger
from jobs.services import job_cancel, job_dispatch
from workflows.models import BuildStatus, ConcurrencyPolicy, Workflow
from workflows.services import workflow_plan

logger = logging.getLogger(__name__)


def scheduler_tick(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Create the jobs of every workflow due at `now`; returns how many jobs were created."""
    now = now or timezone.now()
    batch_size = batch_size or settings.SCHEDULER_BATCH_SIZE
    created = 0
    while True:
        batch_created, claimed = _tick_batch(now, batch_size)
        created += batch_created
        if claimed < batch_size:
            return created


def _tick_batch(now: datetime, limit: int) -> tuple[int, int]:
    with transaction.atomic():
        due = list(
            Workflow.objects.select_for_update(skip_locked=True)
            .filter(
                terminated_at__isnull=True,
                paused_at__isnull=True,
                build_status=BuildStatus.COMPLETED,
                next_run_at__lte=now,
            )
            .order_by("next_run_at")
            .only(
                "id",
                "user_id",
                "name",
                "interval",
                "schedule",
                "timezone",
                "start_at",
                "end_at",
                "created_at",
                "next_run_at",
                "concurrency_policy",
            )[:limit]
        )
        if not due:
            return 0, 0
        active = set(
            Job.objects.filter(workflow_id__in=[w.pk for w in due], status__in=UNFINISHED)
            # A slot waiting for its ping is not a run in progress: the next slot waits beside it.
            .exclude(worker=PING_WORKER)
            .values_list("workflow_id", flat=True)
            .distinct()
        )
        jobs: list[tuple] = []
        to_replace: list = []
        for workflow in due:
            slot = workflow.next_run_at
            assert slot is not None  # matched next_run_at__lte=now
            workflow.next_run_at = workflow_plan(workflow).next_run(slot, now)
            busy = workflow.pk in active
            if busy and workflow.concurrency_policy == ConcurrencyPolicy.FORBID:
                # If this was the last slot, the active run's end ends the schedule (jobs.services).
                logger.info("workflow %s: slot %s skipped, a run is still active", workflow.pk, slot)
                continue
            if busy and workflow.concurrency_policy == ConcurrencyPolicy.REPLACE:
                to_replace.append(workflow.pk)
            jobs.append((uuid.uuid4(), workflow.pk, workflow.user_id, slot))
        _advance(due)
        if to_replace:
            for job in Job.objects.select_related("workflow", "user").filter(
                workflow_id__in=to_replace, status__in=UNFINISHED
            ):
                # It may have finished on its own meanwhile: then there is nothing left to replace.
                with contextlib.suppress(ServiceError):
                    job_cancel(job=job, canceled_by="system:replaced")
        _insert_jobs(jobs, now)
        job_ids = [job_id for job_id, _, _, _ in jobs]
        transaction.on_commit(lambda: job_dispatch(job_ids=job_ids), robust=True)
    return len(jobs), len(due)


# The two writes of a batch take their rows as arrays through unnest(): one statement with a few
# parameters, where Django's bulk methods would compile thousands of them (most of a tick's time
# at 10,000 due workflows).


def _insert_jobs(rows: list[tuple], now: datetime) -> None:
    """Insert PENDING automatic jobs; a slot that already has its job is skipped (the unique key)."""
    if not rows:
        return
    ids, workflow_ids, user_ids, slots = (list(column) for column in zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Job._meta.db_table} (id, workflow_id, user_id, status, trigger, scheduled_at, error,
                attempt, worker, canceled_by, infrastructure_failure, created_at, updated_at)
            SELECT t.id, t.workflow_id, t.user_id, %s, %s, t.scheduled_at, '', 1, '', '', false, %s, %s
            FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::timestamptz[])
                AS t(id, workflow_id, user_id, scheduled_at)
            ON CONFLICT DO NOTHING
            """,
            [JobStatus.PENDING, JobTrigger.AUTOMATIC, now, now, ids, workflow_ids, user_ids, slots],
        )


def _advance(workflows: list[Workflow]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Workflow._meta.db_table} AS w SET next_run_at = t.next_run_at
            FROM unnest(%s::uuid[], %s::timestamptz[]) AS t(id, next_run_at)
            WHERE w.id = t.id
            """,
            [[w.pk for w in workflows], [w.next_run_at for w in workflows]],
        )
