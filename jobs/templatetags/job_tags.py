"""Template helpers of the pages that show jobs beside workflows (the workflow list, the home page):
workflows' last runs and the newest runs, read through the jobs app's selectors."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from accounts.models import User
from jobs import selectors
from jobs.models import Job
from workflows.models import Workflow

register = template.Library()


@register.simple_tag
def with_last_runs(workflows: Iterable[Workflow]) -> list[Workflow]:
    """The workflows, each with `last_run` (its newest job, or None): one query for them all."""
    workflows = list(workflows)
    runs = selectors.job_last_runs(workflow_ids=[workflow.pk for workflow in workflows])
    for workflow in workflows:
        workflow.last_run = runs.get(workflow.pk)  # type: ignore[attr-defined]  # for the template only
    return workflows


@register.simple_tag
def recent_jobs(user: User, count: int = 10) -> list[Job]:
    return selectors.job_recent(user=user, limit=count)


@register.filter
def run_time(job: Job):
    """When a run happened, as far as it got: its end, its start, or its slot."""
    return job.completed_at or job.started_at or job.scheduled_at
