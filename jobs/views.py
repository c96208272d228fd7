"""Dashboard pages of jobs: the job page (fields, cancel, raw log downloads, live log).

Each view parses the request, calls one selector or service, and renders; the rules are those of
the REST API because they are the same functions.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.request_types import AuthenticatedHttpRequest
from accounts.services import RequestContext
from chronoverse.errors import ServiceError
from jobs import selectors, services
from jobs.models import UNFINISHED, Job, JobStatus


def _owned(request: AuthenticatedHttpRequest, job_id: UUID) -> Job:
    # Someone else's job is a 404 like a missing one, so ids cannot be probed for existence.
    try:
        return selectors.job_get(user=request.user, job_id=job_id)
    except ServiceError as error:
        raise Http404(error.message) from None


@login_required
def job_detail_view(request: AuthenticatedHttpRequest, job_id: UUID) -> HttpResponse:
    job = _owned(request, job_id)
    return render(
        request,
        "jobs/detail.html",
        # Whether to offer Cancel only shapes the page; job_cancel decides (also in a race).
        {"job": job, "cancelable": job.status in UNFINISHED},
    )


@login_required
@require_POST
def job_cancel_view(request: AuthenticatedHttpRequest, job_id: UUID) -> HttpResponse:
    job = _owned(request, job_id)
    try:
        job = services.job_cancel(
            job=job,
            canceled_by=str(request.user.id),
            user=request.user,
            context=RequestContext.from_request(request),
            wait=True,
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if job.status == JobStatus.CANCELED:
            messages.success(request, "Job canceled.")
        else:
            messages.info(request, "Cancel requested: the container is being stopped.")
    return redirect("jobs:detail", job_id=job.id)
