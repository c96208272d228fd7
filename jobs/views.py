"""Dashboard pages of jobs: the list of all runs, the job page (fields, cancel, re-run, log
downloads, live log with its paged reads), and the pages of a workflow that show or change its
jobs: its detail page (its jobs, filtered and paged), run now, terminate and delete (both cancel
its unfinished jobs). They are served under /workflows/.

Each view parses the request, calls one selector or service, and renders; the rules are those of
the REST API because they are the same functions.
"""

from __future__ import annotations

from uuid import UUID

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.request_types import AuthenticatedHttpRequest
from accounts.services import RequestContext
from chronoverse.dashboard import dashboard_page, owned_or_404
from chronoverse.errors import ServiceError
from chronoverse.pagination import parse_limit
from chronoverse.ratelimit import client_ip
from chronoverse.serializers import format_timestamp
from jobs import pings, selectors, services
from jobs.logs import LogLine, lines_as_dicts
from jobs.models import UNFINISHED, Job, JobStatus, JobTrigger
from workflows import selectors as workflow_selectors
from workflows.models import Workflow, WorkflowKind, ack_timeout
from workflows.pings import ping_url

# How many jobs a page of the workflow page's table lists.
RECENT_JOBS = 20
# Lines per read of the job page's log (the live tail starts with the last ones).
LOG_WINDOW = 500
# Rows per chunk of a log download: the whole log streams, never held in memory.
DOWNLOAD_CHUNK = 2000


def _owned(request: AuthenticatedHttpRequest, job_id: UUID) -> Job:
    return owned_or_404(lambda: selectors.job_get(user=request.user, job_id=job_id))


def _owned_workflow(request: AuthenticatedHttpRequest, workflow_id: UUID) -> Workflow:
    return owned_or_404(lambda: workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id))


def _filter_choices(request: AuthenticatedHttpRequest) -> dict:
    return {
        "statuses": JobStatus.values,
        "triggers": JobTrigger.values,
        "status": request.GET.get("status", ""),
        "trigger": request.GET.get("trigger", ""),
    }


@login_required
def job_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every run of the user's, newest first, filtered by status, trigger and workflow, paged."""
    page = dashboard_page(request, lambda: selectors.job_list(user=request.user, filters=request.GET))
    return render(
        request,
        "jobs/list.html",
        {
            "jobs": page.items,
            "next_query": page.next_query,
            "first_query": page.first_query,
            "workflows": workflow_selectors.workflow_list(user=request.user).order_by("name").only("id", "name"),
            "workflow": request.GET.get("workflow", ""),
            "filtered": any(request.GET.get(name) for name in ("status", "trigger", "workflow")),
            **_filter_choices(request),
        },
        status=page.status,
    )


@login_required
def job_detail_view(request: AuthenticatedHttpRequest, job_id: UUID) -> HttpResponse:
    job = _owned(request, job_id)
    return render(
        request,
        "jobs/detail.html",
        # Whether to offer Cancel or Re-run only shapes the page; the services decide (also in a race).
        {
            "job": job,
            "cancelable": job.status in UNFINISHED,
            "rerunnable": not job.workflow.is_terminated,
            "delivery": selectors.job_delivery(job=job),
        },
    )


@login_required
@require_POST
def job_rerun_view(request: AuthenticatedHttpRequest, job_id: UUID) -> HttpResponse:
    """Run the job's workflow again now, as the API's manual run does (POST .../workflows/{id}/jobs)."""
    job = _owned(request, job_id)
    return _run_now(request, job.workflow, back=redirect("jobs:detail", job_id=job.id))


def _run_now(request: AuthenticatedHttpRequest, workflow: Workflow, *, back: HttpResponse) -> HttpResponse:
    """Run the workflow now and go to the new job's page (its live log is what one wants to watch
    next), or back where the user was with the reason it cannot run."""
    try:
        context = RequestContext.from_request(request)
        job = services.job_run_manually(workflow=workflow, user=request.user, context=context)
    except ServiceError as error:
        messages.error(request, error.message)
        return back
    messages.success(request, "Job started.")
    return redirect("jobs:detail", job_id=job.id)


def _sequence(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ServiceError(f"{name} must be a line number.", fields={name: ["Must be a line number."]})
    return int(raw)


@login_required
@require_GET
def job_log_view(request: AuthenticatedHttpRequest, job_id: UUID) -> JsonResponse:
    """A window of the job's log for the job page: `?after=<n>` the lines after line n, else
    `?before=<n>` the lines before it (the last lines when neither is given); `stream` and `q`
    filter as on the API's paged read; `limit` up to 1000."""
    job = _owned(request, job_id)
    try:
        after = _sequence(request.GET.get("after"), "after")
        before = _sequence(request.GET.get("before"), "before")
        limit = parse_limit(request.GET.get("limit"), default=LOG_WINDOW, maximum=1000)
        lines, more = selectors.job_log_window(job=job, filters=request.GET, before=before, after=after, limit=limit)
    except ServiceError as error:
        return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=error.status)
    return JsonResponse(
        {
            "lines": lines_as_dicts([LogLine.of(row) for row in lines]),
            # Whether lines lie beyond the window on the side it was read towards.
            "more_before": more if after is None else None,
            "more_after": more if after is not None else None,
            # Where a live tail starts: the last line stored, whatever the filters.
            "last_sequence": selectors.job_log_last_sequence(job=job),
            "job": services.job_status_data(job),
        }
    )


@login_required
@require_GET
def job_log_download_view(request: AuthenticatedHttpRequest, job_id: UUID) -> StreamingHttpResponse:
    """The whole log as text with each line's time and stream (the API's .txt has the messages
    alone, as its contract says): `2026-03-03T10:30:45.123Z stdout hello`."""
    job = _owned(request, job_id)

    async def lines():
        # An async iterator: under ASGI the download streams chunk by chunk, never held whole.
        last = 0
        while True:
            rows = await sync_to_async(selectors.job_log_rows_after)(job_id=job.pk, sequence=last, limit=DOWNLOAD_CHUNK)
            yield "".join(
                f"{format_timestamp(timestamp)} {stream:<6} {message}\n" for _, stream, message, timestamp in rows
            )
            if len(rows) < DOWNLOAD_CHUNK:
                return
            last = rows[-1][0]

    response = StreamingHttpResponse(lines(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.id}-log.txt"'
    return response


@login_required
@require_POST
def job_cancel_view(request: AuthenticatedHttpRequest, job_id: UUID) -> HttpResponse:
    job = _owned(request, job_id)
    try:
        job = services.job_cancel_by_user(job=job, user=request.user, context=RequestContext.from_request(request))
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if job.status == JobStatus.CANCELED:
            messages.success(request, "Job canceled.")
        else:
            messages.info(request, "Cancel requested: the container is being stopped.")
    return redirect("jobs:detail", job_id=job.id)


@login_required
def workflow_detail_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    workflow = _owned_workflow(request, workflow_id)
    build = workflow_selectors.workflow_latest_build(workflow=workflow)
    client_sockets = workflow.kind == WorkflowKind.WEBSOCKET

    page = dashboard_page(
        request,
        lambda: selectors.job_table_for_workflow(workflow=workflow, filters=request.GET),
        default_limit=RECENT_JOBS,
    )
    dependents = workflow_selectors.workflow_dependents(workflow=workflow)
    recent_pings = selectors.ping_list(workflow=workflow)[:RECENT_JOBS] if workflow.is_ping else []
    return render(
        request,
        "workflows/detail.html",
        {
            "workflow": workflow,
            "build": build,
            # How many lines the page shows, for the live output that continues them (see live.js).
            "build_lines": len(build.output.splitlines()) if build and build.output else 0,
            "jobs": page.items,
            "next_query": page.next_query,
            "first_query": page.first_query,
            "jobs_filtered": any(request.GET.get(name) for name in ("status", "trigger")),
            **_filter_choices(request),
            "dependents": dependents,
            "ping_url": ping_url(workflow),
            "pings": recent_pings,
            "client_sockets": client_sockets,
            "connected_clients": (
                selectors.client_connections_live(user=request.user, client_name=workflow.payload["client_name"])
                if client_sockets
                else []
            ),
            "ack_timeout": ack_timeout(workflow.payload) if client_sockets else None,
        },
        status=page.status,
    )


@login_required
@require_POST
def workflow_run_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    workflow = _owned_workflow(request, workflow_id)
    return _run_now(request, workflow, back=redirect("workflows:detail", workflow_id=workflow.id))


@login_required
@require_POST
def workflow_terminate_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    workflow = _owned_workflow(request, workflow_id)
    if workflow.is_terminated:
        messages.info(request, "The workflow was already terminated.")
        return redirect("workflows:detail", workflow_id=workflow.id)
    try:
        services.workflow_stop(workflow=workflow, context=RequestContext.from_request(request))
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Workflow terminated.")
    return redirect("workflows:detail", workflow_id=workflow.id)


@login_required
@require_POST
def workflow_delete_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    workflow = _owned_workflow(request, workflow_id)
    try:
        services.workflow_remove(workflow=workflow, context=RequestContext.from_request(request))
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("workflows:detail", workflow_id=workflow.id)
    messages.success(request, f"Workflow “{workflow.name}” deleted.")
    return redirect("workflows:list")


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def ping_view(request: HttpRequest, key: str, signal: str = "") -> HttpResponse:
    """`/ping/<key>[/start|/fail|/<0-255>]`: no session, no CSRF, no auth but the key itself. The web
    processes answer these before Django (jobs.ping_ingress); this view serves WSGI and the tests."""
    parsed = pings.ping_signal(signal)
    if parsed is None:
        return HttpResponse(pings.ANSWER_TEXT[404], status=404, content_type="text/plain")
    kind, exit_status = parsed
    body = request.read(pings.MAX_BODY_BYTES) if request.method == "POST" else b""
    answer = pings.ping_receive(
        pings.PingCall(
            key=key,
            kind=kind,
            exit_status=exit_status,
            remote_addr=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            body=body,
        ),
    )
    response = HttpResponse(pings.ANSWER_TEXT[answer.status], status=answer.status, content_type="text/plain")
    if answer.status == 429:
        response["Retry-After"] = str(max(1, round(answer.retry_after)))
    return response
