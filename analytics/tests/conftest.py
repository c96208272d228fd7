"""A hand-built history: jobs with chosen outcomes, times and durations, added to the rollups by
the very function the services call when a job finishes, and log lines stored as the log pipeline
stores them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from jobs.logs import LogLine, copy_lines
from jobs.models import FINISHED, Job, JobStatus, JobTrigger
from jobs.rollups import rollups_add_finished
from workflows import services as workflow_services
from workflows.models import Workflow


@pytest.fixture
def make_workflow(user) -> Callable[..., Workflow]:
    counter = iter(range(1, 10**6))

    def make(owner=None, kind: str = "HEARTBEAT", payload: dict | None = None) -> Workflow:
        if payload is None:
            payload = {"url": "http://127.0.0.1:9/hook"} if kind == "WEBHOOK" else {}
            if kind == "CONTAINER":
                payload = {"image": "chronoverse/busybox:latest"}
            if kind == "WEBSOCKET":
                payload = {"client_name": "agent"}
        workflow, _ = workflow_services.workflow_create(
            user=owner or user,
            data={"name": f"wf {next(counter)}", "kind": kind, "payload": payload, "interval": 60},
        )
        return workflow

    return make


@pytest.fixture
def make_job() -> Callable[..., Job]:
    def make(
        workflow: Workflow,
        status: str,
        *,
        completed_at: datetime | None = None,
        duration: float | None = None,
        logs: int = 0,
    ) -> Job:
        finished = status in FINISHED
        started_at = None
        if completed_at is not None and duration is not None:
            started_at = completed_at - timedelta(seconds=duration)
        elif status == JobStatus.RUNNING:
            started_at = datetime.now().astimezone()
        job = Job.objects.create(
            workflow=workflow,
            user_id=workflow.user_id,
            status=status,
            trigger=JobTrigger.MANUAL,
            scheduled_at=started_at or completed_at or datetime.now().astimezone(),
            started_at=started_at,
            completed_at=completed_at if finished else None,
            duration_seconds=duration if finished else None,
        )
        if finished:
            rollups_add_finished([job.pk])
        if logs:
            when = completed_at or datetime.now().astimezone()
            copy_lines(job.pk, [LogLine(n, "stdout", f"line {n}", when) for n in range(1, logs + 1)])
        return job

    return make
