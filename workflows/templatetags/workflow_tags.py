"""Template helpers of the workflow pages and the dashboard home."""

from __future__ import annotations

import json
from typing import Any

from django import template

from accounts.models import User
from workflows import selectors
from workflows.models import Workflow
from workflows.schedule import is_recurrence, recurrence_rrule

register = template.Library()


@register.filter
def schedule_label(workflow: Workflow) -> str:
    """When a workflow runs, in one line: `every 5 min`, `cron */5 * * * *`, `at 2030-01-01T09:00:00Z`;
    a recurrence object as its RRULE (`recurrence FREQ=DAILY;BYHOUR=9`)."""
    if workflow.interval is not None:
        return f"every {workflow.interval} min"
    if is_recurrence(workflow.schedule):
        return f"recurrence {recurrence_rrule(workflow.schedule)}"
    if workflow.schedule and "after" in workflow.schedule:
        return f"after {workflow.schedule['after'][:8]} ({workflow.schedule['on']})"
    return " ".join(f"{key} {value}" for key, value in (workflow.schedule or {}).items())


@register.filter
def pretty_json(value: Any) -> str:
    # The payload is shown as the JSON the API and the edit form use, not as a Python repr.
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.simple_tag
def recent_workflows(user: User, count: int = 5) -> list[Workflow]:
    # The dashboard home view belongs to chronoverse/; a tag lets its template show workflows
    # through the selector without that view knowing about them.
    return list(selectors.workflow_list(user=user).order_by("-created_at", "-id")[:count])
