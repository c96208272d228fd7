"""The task queue (Celery on Redis) as the services see it: work is sent by task name.

Tasks are the thin outer layer that calls services; a service that imported its app's task module
to queue work would close an import circle. Sending by name keeps the dependency one way, and the
routes in CELERY_TASK_ROUTES apply all the same. `tests/test_task_queue.py` checks every name.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from chronoverse.celery import app

EXECUTE_JOB = "jobs.tasks.execute_job"
RUN_HEARTBEATS = "jobs.tasks.run_heartbeats"
BUILD_WORKFLOW_IMAGE = "workflows.tasks.build_workflow_image"
REMOVE_WORKFLOW_IMAGES = "workflows.tasks.remove_workflow_images"
DELIVER_ALERT = "notifications.tasks.deliver_alert"

NAMES = (EXECUTE_JOB, RUN_HEARTBEATS, BUILD_WORKFLOW_IMAGE, REMOVE_WORKFLOW_IMAGES, DELIVER_ALERT)


def send(name: str, *args: Any, countdown: float | None = None) -> None:
    app.send_task(name, args=list(args), countdown=countdown)


def send_on_commit(name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue the task once the current transaction commits (at once outside one): a worker must
    find the rows it is given."""
    transaction.on_commit(lambda: send(name, *args, countdown=countdown), robust=True)
