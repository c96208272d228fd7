"""A workflow's live state for the dashboard socket (notifications.dashboard): its badges, next
run and failure count, and its build's progress, published after commit to its user's pages."""

from __future__ import annotations

from django.db import transaction

from chronoverse.serializers import format_timestamp
from notifications import dashboard
from workflows.models import Workflow, WorkflowBuild


def workflow_data(workflow: Workflow) -> dict:
    if workflow.terminated_at is not None:
        state = "terminated"
    elif workflow.paused_at is not None:
        state = "paused"
    else:
        state = "active"
    return {
        "id": str(workflow.id),
        "name": workflow.name,
        "kind": workflow.kind,
        "state": state,
        "build_status": workflow.build_status,
        "next_run_at": format_timestamp(workflow.next_run_at),
        "paused_at": format_timestamp(workflow.paused_at),
        "terminated_at": format_timestamp(workflow.terminated_at),
        "termination_reason": workflow.termination_reason or None,
        "consecutive_job_failures_count": workflow.consecutive_job_failures_count,
        "max_consecutive_job_failures_allowed": workflow.max_consecutive_job_failures_allowed,
    }


def workflow_changed(workflow_id) -> None:
    """After commit, tell the user's pages the workflow's state as committed (read again then, so
    that a message never shows a state that a later step of the same transaction changed)."""

    def publish() -> None:
        workflow = Workflow.objects.filter(pk=workflow_id).first()
        if workflow is not None:
            dashboard.publish([(workflow.user_id, {"type": "workflow", "workflow": workflow_data(workflow)})])

    transaction.on_commit(publish, robust=True)


def workflow_deleted(*, user_id, workflow_id) -> None:
    dashboard.publish_on_commit([(user_id, {"type": "workflow_deleted", "workflow_id": str(workflow_id)})])


def build_data(build: WorkflowBuild) -> dict:
    return {
        "generation": build.generation,
        "status": build.status,
        "started_at": format_timestamp(build.started_at),
        "finished_at": format_timestamp(build.finished_at),
    }


def build_output(*, user_id, workflow_id, build: WorkflowBuild, lines: list[str], offset: int) -> None:
    """Publish now (a build runs outside any transaction) the build's new output lines; `offset`
    is how many lines came before them, so a page can tell a gap from a repeat."""
    dashboard.publish(
        [
            (
                user_id,
                {
                    "type": "build",
                    "workflow_id": str(workflow_id),
                    "build": build_data(build),
                    "offset": offset,
                    "lines": lines,
                },
            )
        ]
    )
