"""Dashboard pages of jobs: the job page (fields, cancel, raw log downloads, live log), and the
pages of a workflow that show or change its jobs: its detail page (recent jobs), run now,
terminate and delete (both cancel its unfinished jobs). They are served under /workflows/.

Each view parses the request, calls one selector or service, and renders; the rules are those of
the REST API because they are the same functions.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.request_types import AuthenticatedHttpRequest
from accounts.services import RequestContext
from chronoverse.dashboard import owned_or_404
from chronoverse.errors import ServiceError
from chronoverse.ratelimit import client_ip
from jobs import pings, selectors, services
from jobs.models import UNFINISHED, Job, JobStatus
from workflows import selectors as workflow_selectors
from workflows.models import Workflow, WorkflowKind, ack_timeout
from workflows.pings import ping_url

# How many jobs the workflow page lists; the full history is the API's paginated job list.
RECENT_JOBS = 20


def _owned(request: AuthenticatedHttpRequest, job_id: UUID) -> Job:
    return owned_or_404(lambda: selectors.job_get(user=request.user, job_id=job_id))


def _owned_workflow(request: AuthenticatedHttpRequest, workflow_id: UUID) -> Workflow:
    return owned_or_404(lambda: workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id))


@login_required
def job_detail_view(request: AuthenticatedHttpRequest, job_id: UUID) -> HttpResponse:
    job = _owned(request, job_id)
    return render(
        request,
        "jobs/detail.html",
        # Whether to offer Cancel only shapes the page; job_cancel decides (also in a race).
        {"job": job, "cancelable": job.status in UNFINISHED, "delivery": selectors.job_delivery(job=job)},
    )


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
    jobs = selectors.job_recent_for_workflow(workflow=workflow, limit=RECENT_JOBS)
    dependents = workflow_selectors.workflow_dependents(workflow=workflow)
    recent_pings = selectors.ping_list(workflow=workflow)[:RECENT_JOBS] if workflow.is_ping else []
    client_sockets = workflow.kind == WorkflowKind.WEBSOCKET
    return render(
        request,
        "workflows/detail.html",
        {
            "workflow": workflow,
            "build": build,
            "jobs": jobs,
            "dependents": dependents,
            "ping_url": ping_url(workflow),
            "pings": recent_pings,
            "pings_api_url": f"{reverse('workflow-pings', args=[workflow.id])}?limit={RECENT_JOBS}",
            "client_sockets": client_sockets,
            "connected_clients": (
                selectors.client_connections_live(user=request.user, client_name=workflow.payload["client_name"])
                if client_sockets
                else []
            ),
            "ack_timeout": ack_timeout(workflow.payload) if client_sockets else None,
        },
    )


@login_required
@require_POST
def workflow_run_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    workflow = _owned_workflow(request, workflow_id)
    try:
        job = services.job_run_manually(
            workflow=workflow, user=request.user, context=RequestContext.from_request(request)
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("workflows:detail", workflow_id=workflow.id)
    # Straight to the job page: right after "Run now" the live log is what one wants to watch.
    messages.success(request, "Job started.")
    return redirect("jobs:detail", job_id=job.id)


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
