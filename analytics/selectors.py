"""Reads of analytics: a user's and a workflow's figures, and the platform's state for /metrics.

Finished jobs are read from the rollups the jobs app keeps as jobs finish (jobs.rollups), never by
scanning the jobs table: a handful of indexed reads whatever the history's size. Jobs in progress
are few and counted live through partial indexes; workflows are counted live. docs/analytics.md
says what each figure means and how exact it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from accounts.models import User
from chronoverse.errors import ServiceError
from chronoverse.serializers import format_timestamp
from jobs.models import UNFINISHED, Job, JobDurationCount, JobRollup, JobStatus
from jobs.rollups import percentile_from_histogram
from workflows.models import BuildStatus, Workflow, WorkflowKind


@dataclass(frozen=True)
class Range:
    """A time series' window: `count` buckets of `unit` ("hour" or "day"), the last one the current."""

    name: str
    unit: str
    count: int

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.unit == "hour" else timedelta(days=1)

    def bucket_starts(self, now: datetime) -> list[datetime]:
        """The UTC starts of the buckets, oldest first; the last holds `now`."""
        now = now.astimezone(UTC)
        last = now.replace(minute=0, second=0, microsecond=0)
        if self.unit == "day":
            last = last.replace(hour=0)
        return [last - self.step * (self.count - 1 - i) for i in range(self.count)]


RANGES = {r.name: r for r in (Range("24h", "hour", 24), Range("7d", "day", 7), Range("30d", "day", 30))}
DEFAULT_RANGE = "24h"


def analytics_range(value: str | None) -> Range:
    """The `range` query parameter (24h when absent); anything else is a 400 naming `range`."""
    if value is None:
        return RANGES[DEFAULT_RANGE]
    if value not in RANGES:
        raise ServiceError.invalid({"range": [f"Must be one of {', '.join(RANGES)}."]})
    return RANGES[value]


def _job_figures(
    rollups: QuerySet[JobRollup],
    durations: QuerySet[JobDurationCount],
    unfinished: QuerySet[Job],
    window: Range,
    now: datetime,
) -> dict[str, Any]:
    """The job figures of the contract from one scope's rollups (all-time rows and hourly rows),
    duration histogram and unfinished jobs: four queries."""
    totals = rollups.filter(period__isnull=True).values(
        "completed", "failed", "canceled", "duration_count", "duration_sum", "log_lines"
    ).first() or dict.fromkeys(("completed", "failed", "canceled", "duration_count", "duration_sum", "log_lines"), 0)
    by_status = dict.fromkeys(JobStatus.values, 0)
    by_status.update(unfinished.filter(status__in=UNFINISHED).values_list("status").annotate(n=Count("pk")))
    by_status[JobStatus.COMPLETED] = totals["completed"]
    by_status[JobStatus.FAILED] = totals["failed"]
    by_status[JobStatus.CANCELED] = totals["canceled"]
    outcomes = totals["completed"] + totals["failed"]
    timed = totals["duration_count"]
    histogram = list(durations.order_by("bucket").values_list("bucket", "count"))
    return {
        "total_jobs": sum(by_status.values()),
        "jobs_by_status": by_status,
        "success_rate": totals["completed"] / outcomes if outcomes else None,
        "total_job_execution_duration": float(totals["duration_sum"]),
        "avg_job_duration_seconds": totals["duration_sum"] / timed if timed else 0.0,
        "p95_job_duration_seconds": percentile_from_histogram(histogram, 0.95) or 0.0,
        "total_logs": totals["log_lines"],
        "timeseries": _timeseries(rollups, window, now),
    }


def _timeseries(rollups: QuerySet[JobRollup], window: Range, now: datetime) -> list[dict[str, Any]]:
    starts = window.bucket_starts(now)
    hourly = rollups.filter(period__gte=starts[0])
    if window.unit == "hour":
        rows = hourly.values_list("period", "completed", "failed")
    else:
        rows = (
            hourly.annotate(bucket=Trunc("period", window.unit, tzinfo=UTC))
            .values_list("bucket")
            .annotate(Sum("completed"), Sum("failed"))
        )
    found = {bucket: (completed, failed) for bucket, completed, failed in rows}
    points = [(start, *found.get(start, (0, 0))) for start in starts]
    return [{"bucket": format_timestamp(start), "completed": c, "failed": f} for start, c, f in points]


def user_analytics(*, user: User, window: Range, now: datetime | None = None) -> dict[str, Any]:
    """A user's workflows and every job they ever ran (those of deleted workflows included)."""
    now = now or timezone.now()
    workflows = dict.fromkeys(("total", "active", "paused", "terminated"), 0)
    by_kind = dict.fromkeys(WorkflowKind.values, 0)
    rows = (
        Workflow.objects.filter(user=user)
        .values_list("kind")
        .annotate(
            total=Count("pk"),
            terminated=Count("pk", filter=Q(terminated_at__isnull=False)),
            paused=Count("pk", filter=Q(terminated_at__isnull=True, paused_at__isnull=False)),
        )
    )
    for kind, total, terminated, paused in rows:
        by_kind[kind] = total
        workflows["total"] += total
        workflows["terminated"] += terminated
        workflows["paused"] += paused
    workflows["active"] = workflows["total"] - workflows["terminated"] - workflows["paused"]
    figures = _job_figures(
        JobRollup.objects.filter(user=user, workflow_id__isnull=True),
        JobDurationCount.objects.filter(user=user, workflow_id__isnull=True),
        Job.objects.filter(user=user),
        window,
        now,
    )
    return {
        "total_workflows": workflows["total"],
        "workflows_by_kind": by_kind,
        "active_workflows": workflows["active"],
        "paused_workflows": workflows["paused"],
        "terminated_workflows": workflows["terminated"],
        **figures,
    }


def workflow_analytics(*, workflow: Workflow, window: Range, now: datetime | None = None) -> dict[str, Any]:
    """One workflow's job figures (the caller checked that it is the user's own)."""
    figures = _job_figures(
        JobRollup.objects.filter(user_id=workflow.user_id, workflow_id=workflow.pk),
        JobDurationCount.objects.filter(user_id=workflow.user_id, workflow_id=workflow.pk),
        Job.objects.filter(workflow=workflow),
        window,
        now or timezone.now(),
    )
    return {
        "workflow_id": str(workflow.pk),
        **figures,
        "consecutive_job_failures_count": workflow.consecutive_job_failures_count,
    }


def duration_histogram(*, user: User, workflow: Workflow | None = None) -> list[tuple[int, int]]:
    """(bucket, jobs) of the all-time duration histogram (jobs.rollups), of one workflow or all
    of the user's, in bucket order: what the dashboard's duration chart draws."""
    rows = JobDurationCount.objects.filter(user=user, workflow_id=workflow.pk if workflow else None)
    return list(rows.order_by("bucket").values_list("bucket", "count"))


# -- the platform, for operators -----------------------------------------------------------------


@dataclass(frozen=True)
class PlatformState:
    jobs_by_status: dict[str, int]
    workflows_by_state: dict[str, int]
    scheduler_lag_seconds: float
    oldest_queued_job_age_seconds: float


_PLATFORM_SQL = f"""
SELECT
    (SELECT coalesce(sum(completed), 0) FROM {JobRollup._meta.db_table}
        WHERE workflow_id IS NULL AND period IS NULL),
    (SELECT coalesce(sum(failed), 0) FROM {JobRollup._meta.db_table}
        WHERE workflow_id IS NULL AND period IS NULL),
    (SELECT coalesce(sum(canceled), 0) FROM {JobRollup._meta.db_table}
        WHERE workflow_id IS NULL AND period IS NULL),
    (SELECT count(*) FROM {Job._meta.db_table} WHERE status = 'PENDING'),
    (SELECT count(*) FROM {Job._meta.db_table} WHERE status = 'QUEUED'),
    (SELECT count(*) FROM {Job._meta.db_table} WHERE status = 'RUNNING'),
    (SELECT count(*) FROM {Workflow._meta.db_table} WHERE terminated_at IS NOT NULL),
    (SELECT count(*) FROM {Workflow._meta.db_table} WHERE terminated_at IS NULL AND paused_at IS NOT NULL),
    (SELECT count(*) FROM {Workflow._meta.db_table}),
    (SELECT min(next_run_at) FROM {Workflow._meta.db_table}
        WHERE terminated_at IS NULL AND paused_at IS NULL AND build_status = %s
        AND next_run_at IS NOT NULL AND next_run_at <= %s),
    (SELECT min(created_at) FROM {Job._meta.db_table} WHERE status = 'QUEUED')
"""


def platform_state(*, now: datetime | None = None) -> PlatformState:
    """Every user's jobs and workflows as the database has them now (one statement): jobs per
    status (finished ones from the rollups, so those of deleted workflows still count), workflows
    per state, how late the scheduler is (the oldest due, unclaimed next_run_at) and how long the
    oldest queued job has waited."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_PLATFORM_SQL, [BuildStatus.COMPLETED, now])
        (completed, failed, canceled, pending, queued, running, terminated, paused, workflows, due, oldest) = (
            cursor.fetchone()
        )
    return PlatformState(
        jobs_by_status={
            JobStatus.PENDING: pending,
            JobStatus.QUEUED: queued,
            JobStatus.RUNNING: running,
            JobStatus.COMPLETED: int(completed),
            JobStatus.FAILED: int(failed),
            JobStatus.CANCELED: int(canceled),
        },
        workflows_by_state={"active": workflows - terminated - paused, "paused": paused, "terminated": terminated},
        scheduler_lag_seconds=max(0.0, (now - due).total_seconds()) if due else 0.0,
        oldest_queued_job_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )
