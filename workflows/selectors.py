"""Reads of the workflows app."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from accounts.models import User
from chronoverse.errors import ServiceError
from chronoverse.filters import filtered
from workflows.aliases import canonical_kind
from workflows.models import BuildStatus, Workflow, WorkflowKind


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
