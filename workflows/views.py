"""Dashboard pages of workflows: list, create, detail (with run now, terminate, delete, rebuild) and
edit, and the create and edit forms' schedule preview.

Each view parses the request, calls one selector or service, and renders; the rules are those of
the REST API because they are the same functions.
"""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.request_types import AuthenticatedHttpRequest
from accounts.services import RequestContext
from chronoverse.dashboard import dashboard_page, owned_or_404
from chronoverse.errors import ServiceError
from chronoverse.serializers import format_timestamp
from workflows import selectors, services
from workflows.forms import WorkflowEditForm, WorkflowFilterForm, WorkflowForm
from workflows.models import Workflow
from workflows.schedule import get_zone
from workflows.validation import current_fields, workflow_problems

TERMINATED_MESSAGE = "This workflow is terminated: a terminated workflow cannot be changed."


def _owned(request: AuthenticatedHttpRequest, workflow_id: UUID) -> Workflow:
    return owned_or_404(lambda: selectors.workflow_get(user=request.user, workflow_id=workflow_id))


@login_required
def workflow_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = dashboard_page(request, lambda: selectors.workflow_list(user=request.user, filters=request.GET))
    return render(
        request,
        "workflows/list.html",
        {
            "workflows": page.items,
            # Unbound, so a bad value is reported once (in the message) without stretching the form.
            "filter_form": WorkflowFilterForm(initial=request.GET.dict()),
            "filtered": any(request.GET.get(name) for name in WorkflowFilterForm.base_fields),
            "next_query": page.next_query,
            "first_query": page.first_query,
        },
        status=page.status,
    )


@login_required
def workflow_create_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = WorkflowForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                workflow, _ = services.workflow_create(
                    user=request.user, data=form.to_data(), context=RequestContext.from_request(request)
                )
            except ServiceError as error:
                form.add_service_error(error)
                status = error.status
            else:
                messages.success(request, f"Workflow “{workflow.name}” created.")
                return redirect("workflows:detail", workflow_id=workflow.id)
        if status == 400:
            # The service names the first stage's problems only; the form shows every input's.
            form.add_problems(workflow_problems(form.to_data()))
    return _form_page(request, form, None, status)


@login_required
def workflow_edit_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    workflow = _owned(request, workflow_id)
    if workflow.is_terminated:
        # Only decides what to show; workflow_update refuses the change itself (also in a race).
        return _refuse_edit(request, workflow, TERMINATED_MESSAGE)
    form = WorkflowEditForm(request.POST or None, workflow=workflow, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            changes = form.changes()
            if not changes:
                messages.info(request, "Nothing changed.")
                return redirect("workflows:detail", workflow_id=workflow.id)
            try:
                services.workflow_update(workflow=workflow, data=changes, context=RequestContext.from_request(request))
            except ServiceError as error:
                if error.code == "conflict":
                    return _refuse_edit(request, workflow, error.message)
                form.add_service_error(error)
                status = error.status
            else:
                messages.success(request, "Workflow updated.")
                return redirect("workflows:detail", workflow_id=workflow.id)
        changes = form.changes() if status == 400 else {}
        if changes:
            # An update of nothing but refused inputs has nothing more to check.
            form.add_problems(workflow_problems(changes, current=current_fields(workflow)))
    return _form_page(request, form, workflow, status)


def _form_page(
    request: AuthenticatedHttpRequest, form: WorkflowForm, workflow: Workflow | None, status: int
) -> HttpResponse:
    preview_url = reverse("workflows:schedule-preview")
    if workflow is not None:
        preview_url += "?" + urlencode({"workflow": str(workflow.id)})
    return render(
        request,
        "workflows/form.html",
        {"form": form, "workflow": workflow, "preview_url": preview_url},
        status=status,
    )


@login_required
@require_GET
def workflow_schedule_preview_view(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The next five runs of the form's timing inputs, for the form's live preview (dashboard only:
        the body is the form's own, not the API's). A bad input is an answer too, not a failed request
    (the page asks while the user types): `valid` false and its errors by input name."""
    workflow = None
    if request.GET.get("workflow"):
        try:
            workflow = _owned(request, UUID(request.GET["workflow"]))
        except ValueError:
            raise Http404 from None
    form: WorkflowForm = (
        WorkflowEditForm(request.GET, workflow=workflow, user=request.user)
        if workflow is not None
        else WorkflowForm(request.GET, user=request.user)
    )
    data = form.timing_data()
    zone = data["timezone"]
    if form.timing_problems:
        return JsonResponse({"valid": False, "timezone": zone, "runs": [], "errors": form.timing_problems})
    try:
        timing, runs = selectors.workflow_schedule_preview(data=data, workflow=workflow)
    except ServiceError as error:
        errors = form.problem_messages(error.fields or {"non_field_errors": [error.message]})
        return JsonResponse({"valid": False, "timezone": zone, "runs": [], "errors": errors})
    local = get_zone(timing["timezone"])
    note = ""
    if timing["schedule"] and "after" in timing["schedule"]:
        note = "No clock: it runs each time the chosen workflow's job ends as chosen."
    elif len(runs) < 5:
        note = "No further run: the schedule ends here." if runs else "The schedule never runs."
    return JsonResponse(
        {
            "valid": True,
            "timezone": timing["timezone"],
            "runs": [
                {"at": format_timestamp(run), "local": run.astimezone(local).strftime("%a %d %b %Y, %H:%M %Z")}
                for run in runs
            ],
            "note": note,
            "errors": {},
        }
    )


def _refuse_edit(request: AuthenticatedHttpRequest, workflow: Workflow, message: str) -> HttpResponse:
    return render(request, "workflows/form.html", {"form": None, "workflow": workflow, "refusal": message}, status=409)


@login_required
@require_POST
def workflow_rebuild_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    workflow = _owned(request, workflow_id)
    try:
        build = services.workflow_rebuild(workflow=workflow, context=RequestContext.from_request(request))
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Rebuild queued (generation {build.generation}).")
    return redirect("workflows:detail", workflow_id=workflow.id)


@login_required
@require_POST
def workflow_pause_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    return _pause_or_resume(request, workflow_id, services.workflow_pause, "Paused: no automatic run until resumed.")


@login_required
@require_POST
def workflow_resume_view(request: AuthenticatedHttpRequest, workflow_id: UUID) -> HttpResponse:
    return _pause_or_resume(request, workflow_id, services.workflow_resume, "Resumed: the next run is on its schedule.")


def _pause_or_resume(request: AuthenticatedHttpRequest, workflow_id: UUID, action, done: str) -> HttpResponse:
    workflow = _owned(request, workflow_id)
    try:
        action(workflow=workflow, context=RequestContext.from_request(request))
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("workflows:detail", workflow_id=workflow.id)
