"""Reads of the workflows app."""

from __future__ import annotations

from datetime import datetime

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from chronoverse.errors import ServiceError
from chronoverse.filters import filtered
from workflows.aliases import canonical_kind
from workflows.models import BuildStatus, Workflow, WorkflowKind
from workflows.schedule import Plan
from workflows.validation import clean_timing, current_fields


class WorkflowFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=WorkflowKind.choices)
    build_status = django_filters.ChoiceFilter(choices=BuildStatus.choices)
    terminated = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_terminated")
    paused = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_paused")
    tag = django_filters.CharFilter(method="filter_tag", max_length=64)
    query = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=255)

    class Meta:
        model = Workflow
        fields: list[str] = []

    def filter_terminated(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(terminated_at__isnull=value != "true")

    def filter_paused(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(paused_at__isnull=value != "true")

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(tags__contains=[value])


def workflow_list(*, user: User, filters=None) -> QuerySet[Workflow]:
    queryset = Workflow.objects.filter(user=user)
    if filters is None:
        return queryset
    if filters.get("kind"):
        # As on input, a kind filter may be an alias (`http`) or in any case.
        filters = filters.copy()
        filters["kind"] = canonical_kind(filters["kind"])[0]
    return filtered(WorkflowFilter, filters, queryset)


def workflow_get(*, user: User, workflow_id) -> Workflow:
    """The user's workflow; another user's is reported as not found, never as forbidden."""
    workflow = Workflow.objects.select_related("user").filter(user=user, pk=workflow_id).first()
    if workflow is None:
        raise ServiceError("Workflow not found.", code="not_found")
    return workflow


def workflow_get_by_id(*, workflow_id) -> Workflow | None:
    """Internal lookup without an owner (for tasks and the engine), like the seeds' GetWorkflowByID."""
    return Workflow.objects.select_related("user").filter(pk=workflow_id).first()


def workflow_latest_build(*, workflow: Workflow):
    """The build of the workflow's current generation (the one build_status describes)."""
    return workflow.builds.order_by("-generation").first()


def workflow_dependents(*, workflow: Workflow) -> QuerySet[Workflow]:
    """The workflows whose runs this one's jobs start (its downstream), oldest first."""
    return Workflow.objects.filter(upstream=workflow, user_id=workflow.user_id).order_by("created_at", "id")


def workflow_upstream_choices(*, user: User, exclude: Workflow | None = None) -> QuerySet[Workflow]:
    """The workflows a dependency may follow: the user's own, by name (a loop is refused on save)."""
    queryset = Workflow.objects.filter(user=user).only("id", "name", "kind", "terminated_at").order_by("name", "id")
    return queryset.exclude(pk=exclude.pk) if exclude is not None else queryset


def workflow_schedule_preview(
    *, data: dict, workflow: Workflow | None = None, count: int = 5, now: datetime | None = None
) -> tuple[dict, list[datetime]]:
    """The next `count` runs of the timing fields in `data` as the workflow would have them if it were
    created now (or `workflow` updated now): the validated timing and its runs. A bad input raises the
    ServiceError creating or updating would, naming the field. A dependency has no runs of its own."""
    now = now or timezone.now()
    timing = clean_timing(data, current=current_fields(workflow) if workflow is not None else None, now=now)
    plan = Plan(
        interval=timing["interval"],
        schedule=timing["schedule"],
        timezone=timing["timezone"],
        start_at=timing["start_at"],
        end_at=timing["end_at"],
        anchor=timing["anchor"],
    )
    runs: list[datetime] = []
    run = plan.first_run(now)
    while run is not None and len(runs) < count:
        runs.append(run)
        run = plan.next_run(run, run)
    return timing, runs
