"""Reads of the jobs app."""

from __future__ import annotations

import django_filters
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


class LogFilter(django_filters.FilterSet):
    stream = django_filters.ChoiceFilter(choices=LogStream.choices)
    q = django_filters.CharFilter(field_name="message", lookup_expr="icontains", max_length=1024)

    class Meta:
        model = JobLog
        fields: list[str] = []


def job_list_for_workflow(*, workflow, filters) -> QuerySet[Job]:
    return filtered(JobFilter, filters, Job.objects.filter(workflow=workflow))


def job_get(*, user: User, job_id) -> Job:
    """The user's job; another user's is reported as not found."""
    job = Job.objects.select_related("workflow", "user").filter(user=user, pk=job_id).first()
    if job is None:
        raise ServiceError("Job not found.", code="not_found")
    return job


def job_logs(*, job: Job, filters) -> QuerySet[JobLog]:
    return filtered(LogFilter, filters, JobLog.objects.filter(job=job))


def job_recent_for_workflow(*, workflow, limit: int = 20) -> list[Job]:
    """The workflow's newest jobs, for the dashboard: one query, rows need nothing else loaded
    (a WEBSOCKET workflow's come with their deliveries)."""
    # Same order as the API's job list, so it walks the (workflow, -created_at, -id) index.
    jobs = Job.objects.filter(workflow=workflow).order_by("-created_at", "-id")
    if workflow.kind == WorkflowKind.WEBSOCKET:
        jobs = jobs.select_related("delivery")
    return list(jobs[:limit])


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
