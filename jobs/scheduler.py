"""The scheduler tick: due workflows become jobs, exactly once per slot.

A tick claims a batch of due workflows with `SELECT ... FOR UPDATE SKIP LOCKED`, so ticks running
at once (two beats by mistake, a slow tick overlapping the next) split the work instead of
repeating it. In one transaction it inserts the batch's jobs in one statement and moves every
workflow's next_run_at forward on its own grid in another; the unique (workflow, scheduled_at) key
of automatic jobs makes a repeated slot harmless even so. Jobs are handed to workers after commit.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chronoverse.serializers import format_timestamp
from jobs import services as jobs_services
from jobs.models import JobTrigger
from jobs.rollups import atomic_with_rollups
from notifications import dashboard
from workflows.models import BuildStatus, Workflow
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


class _Due(NamedTuple):
    """A due workflow as the tick reads it: what planning, admission and dispatch need, and no model
    instance (building 10,000 of them was a tenth of a large tick)."""

    pk: uuid.UUID
    user_id: uuid.UUID
    interval: int | None
    schedule: dict | None
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    created_at: datetime
    next_run_at: datetime
    concurrency_policy: str
    kind: str
    payload: dict
    tags: list


def _tick_batch(now: datetime, limit: int) -> tuple[int, int]:
    # REPLACE cancels runs in progress: they are counted at the end (jobs.rollups).
    with atomic_with_rollups():
        due = [
            _Due._make(row)
            for row in Workflow.objects.select_for_update(skip_locked=True)
            .filter(
                terminated_at__isnull=True,
                paused_at__isnull=True,
                build_status=BuildStatus.COMPLETED,
                next_run_at__lte=now,
            )
            .order_by("next_run_at")
            .values_list(*_Due._fields)[:limit]
        ]
        if not due:
            return 0, 0
        busy = jobs_services.workflows_busy([w.pk for w in due])
        jobs: list[tuple] = []
        dispatch: dict[uuid.UUID, tuple] = {}
        to_replace: list = []
        advanced: list[tuple[uuid.UUID, datetime | None]] = []
        for workflow in due:
            slot = workflow.next_run_at
            advanced.append((workflow.pk, workflow_plan(workflow).next_run(slot, now)))
            if not jobs_services.run_admitted(workflow, busy, to_replace):
                # If this was the last slot, the active run's end ends the schedule (jobs.services).
                logger.info("workflow %s: slot %s skipped, a run is still active", workflow.pk, slot)
                continue
            job_id = uuid.uuid4()
            jobs.append((job_id, workflow.pk, workflow.user_id, slot, None))
            dispatch[job_id] = (job_id, workflow.kind, workflow.payload, workflow.tags, workflow.pk, workflow.user_id)
        _advance(advanced)
        dashboard.publish_on_commit(_next_runs(due, advanced))
        jobs_services.jobs_replace(to_replace)
        created = jobs_services.jobs_insert_pending(jobs, trigger=JobTrigger.AUTOMATIC, now=now)
        # The workflows stay locked until commit, so what was read of them is what the dispatch needs.
        rows = [dispatch[job_id] for job_id in created]
        transaction.on_commit(lambda: jobs_services.jobs_dispatch_rows(rows), robust=True)
    return len(jobs), len(due)


def _next_runs(due: list[_Due], advanced: list[tuple[uuid.UUID, datetime | None]]) -> list[dashboard.Outgoing]:
    """The workflows' new next runs for their users' pages: one message per user and batch."""
    by_user: dict = {}
    for workflow, (pk, next_run_at) in zip(due, advanced, strict=True):
        by_user.setdefault(workflow.user_id, []).append({"id": str(pk), "next_run_at": format_timestamp(next_run_at)})
    return [(user_id, {"type": "schedule", "workflows": items}) for user_id, items in by_user.items()]


def _advance(next_runs: list[tuple[uuid.UUID, datetime | None]]) -> None:
    """Move each workflow's next_run_at to its next slot (None: its schedule has ended)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Workflow._meta.db_table} AS w SET next_run_at = t.next_run_at
            FROM unnest(%s::uuid[], %s::timestamptz[]) AS t(id, next_run_at)
            WHERE w.id = t.id
            """,
            [[pk for pk, _ in next_runs], [when for _, when in next_runs]],
        )
