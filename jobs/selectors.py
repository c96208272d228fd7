"""Reads of the jobs app."""

from __future__ import annotations

import django_filters
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from chronoverse.errors import ServiceError
from chronoverse.filters import filtered
from jobs.clients import stale_before
from jobs.models import ClientConnection, ClientDelivery, Job, JobLog, JobStatus, JobTrigger, LogStream, Ping
from workflows.models import Workflow, WorkflowKind


class JobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=JobTrigger.choices)

    class Meta:
        model = Job
        fields: list[str] = []


class RunFilter(JobFilter):
    """The dashboard's list of all of a user's runs: a job filter, and which workflow's."""

    workflow = django_filters.UUIDFilter(field_name="workflow_id")


class LogFilter(django_filters.FilterSet):
    stream = django_filters.ChoiceFilter(choices=LogStream.choices)
    q = django_filters.CharFilter(field_name="message", lookup_expr="icontains", max_length=1024)

    class Meta:
        model = JobLog
        fields: list[str] = []


def job_list_for_workflow(*, workflow, filters) -> QuerySet[Job]:
    return filtered(JobFilter, filters, Job.objects.filter(workflow=workflow))


def job_list(*, user: User, filters) -> QuerySet[Job]:
    """All the user's jobs (the dashboard's runs page), with their workflows' names in the same query."""
    return filtered(RunFilter, filters, Job.objects.filter(user=user).select_related("workflow"))


def job_last_runs(*, workflow_ids: list) -> dict:
    """The newest job of each of these workflows (by workflow id), in one query that reads one
    index entry per workflow, however many jobs each has."""
    if not workflow_ids:
        return {}
    table = Job._meta.db_table
    fields = ("id", "workflow_id", "status", "trigger", "scheduled_at", "started_at", "completed_at", "created_at")
    columns = ", ".join(f"j.{name}" for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {columns} FROM unnest(%s::uuid[]) AS w(id)
            CROSS JOIN LATERAL (
                SELECT * FROM {table} WHERE workflow_id = w.id ORDER BY created_at DESC, id DESC LIMIT 1
            ) AS j
            """,
            [list(workflow_ids)],
        )
        jobs = [Job(**dict(zip(fields, row, strict=True))) for row in cursor.fetchall()]
    return {job.workflow_id: job for job in jobs}


def job_recent(*, user: User, limit: int = 10) -> list[Job]:
    """The user's newest jobs, for the dashboard's home."""
    return list(Job.objects.filter(user=user).select_related("workflow").order_by("-created_at", "-id")[:limit])


def job_get(*, user: User, job_id) -> Job:
    """The user's job; another user's is reported as not found."""
    job = Job.objects.select_related("workflow", "user").filter(user=user, pk=job_id).first()
    if job is None:
        raise ServiceError("Job not found.", code="not_found")
    return job


def job_logs(*, job: Job, filters) -> QuerySet[JobLog]:
    return filtered(LogFilter, filters, JobLog.objects.filter(job=job))


def job_log_window(
    *, job: Job, filters, before: int | None = None, after: int | None = None, limit: int = 500
) -> tuple[list[JobLog], bool]:
    """A window of a job's log in output order, for paging both ways through a long one: the
    `limit` lines after sequence `after`, else the `limit` lines before `before` (the last ones
    when neither is given), filtered by stream and text like the API's page. Also whether more
    lines lie beyond the window on the side it was read towards."""
    lines = job_logs(job=job, filters=filters)
    if after is not None:
        window = list(lines.filter(sequence__gt=after).order_by("sequence")[: limit + 1])
        return window[:limit], len(window) > limit
    if before is not None:
        lines = lines.filter(sequence__lt=before)
    window = list(lines.order_by("-sequence")[: limit + 1])
    return list(reversed(window[:limit])), len(window) > limit


def job_log_last_sequence(*, job: Job) -> int:
    return JobLog.objects.filter(job=job).order_by("-sequence").values_list("sequence", flat=True).first() or 0


def job_table_for_workflow(*, workflow, filters) -> QuerySet[Job]:
    """The workflow page's jobs, filtered: rows need nothing else loaded (a WEBSOCKET workflow's
    come with their deliveries)."""
    jobs = job_list_for_workflow(workflow=workflow, filters=filters)
    return jobs.select_related("delivery") if workflow.kind == WorkflowKind.WEBSOCKET else jobs


def client_connections_live(*, user: User, client_name: str) -> list[ClientConnection]:
    """The user's client-hook sockets of this name that are connected, longest connected first."""
    return list(
        ClientConnection.objects.filter(
            user=user, client_name=client_name, last_seen_at__gte=stale_before(timezone.now())
        ).order_by("connected_at", "id")
    )


def job_log_rows_after(*, job_id, sequence: int, limit: int) -> list[tuple]:
    """(sequence, stream, message, timestamp) rows after `sequence`, in order: one keyset chunk."""
    return list(
        JobLog.objects.filter(job_id=job_id, sequence__gt=sequence)
        .order_by("sequence")
        .values_list("sequence", "stream", "message", "timestamp")[:limit]
    )


def job_cancel_requested(*, job_id) -> bool:
    """Whether someone asked to cancel this (running) job: its worker polls this to stop the container."""
    return Job.objects.filter(pk=job_id, cancel_requested_at__isnull=False).exists()


def job_upstream(job: Job) -> Job | None:
    """The upstream job whose end started a DEPENDENCY job (None otherwise, or once it is deleted)."""
    return Job.objects.filter(pk=job.upstream_job_id).first() if job.upstream_job_id else None


def ping_list(*, workflow: Workflow) -> QuerySet[Ping]:
    """A workflow's pings, newest first (the caller checked that the workflow is the user's)."""
    return Ping.objects.filter(workflow=workflow).order_by("-received_at", "-id")


def job_delivery(*, job: Job) -> ClientDelivery | None:
    """How a WEBSOCKET job's event went out (None for other jobs, and before it started)."""
    return ClientDelivery.objects.filter(job=job).first() if job.workflow.kind == WorkflowKind.WEBSOCKET else None
