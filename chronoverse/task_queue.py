"""The task queue (Celery on Redis) as the services see it: work is sent by task name.

Tasks are the thin outer layer that calls services; a service that imported its app's task module
to queue work would close an import circle. Sending by name keeps the dependency one way, and the
routes in CELERY_TASK_ROUTES apply all the same. `tests/test_task_queue.py` checks every name.

Queues: `celery` carries the jobs and builds any worker host may take, `control` the tick and the
maintenance, and `host.<name>` what only that host can do because it touches its own engine
(chronoverse.hosts).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from chronoverse.celery import HOST_CLEAN as HOST_CLEAN
from chronoverse.celery import JOBS_QUEUE as JOBS_QUEUE
from chronoverse.celery import app
from chronoverse.celery import host_queue as host_queue

EXECUTE_JOB = "jobs.tasks.execute_job"
RUN_HEARTBEATS = "jobs.tasks.run_heartbeats"
BUILD_WORKFLOW_IMAGE = "workflows.tasks.build_workflow_image"
REMOVE_WORKFLOW_IMAGES = "workflows.tasks.remove_workflow_images"
DELIVER_ALERT = "notifications.tasks.deliver_alert"
# Sent to one host's queue: the engine they touch is that host's.
HOST_SALVAGE = "jobs.tasks.host_salvage"
HOST_FINISH_CANCEL = "jobs.tasks.host_finish_cancel"

NAMES = (
    EXECUTE_JOB,
    RUN_HEARTBEATS,
    BUILD_WORKFLOW_IMAGE,
    REMOVE_WORKFLOW_IMAGES,
    DELIVER_ALERT,
    HOST_CLEAN,
    HOST_SALVAGE,
    HOST_FINISH_CANCEL,
)


def send(
    name: str, *args: Any, countdown: float | None = None, queue: str | None = None, expires: float | None = None
) -> None:
    """Send a task; `queue` overrides its route (a host's own queue), `expires` drops it unrun once
    that many seconds old (a periodic task the next period repeats)."""
    options: dict[str, Any] = {}
    if queue is not None:
        options["queue"] = queue
    if expires is not None:
        options["expires"] = expires
    app.send_task(name, args=list(args), countdown=countdown, **options)


def send_on_commit(name: str, *args: Any, countdown: float | None = None, queue: str | None = None) -> None:
    """Queue the task once the current transaction commits (at once outside one): a worker must
    find the rows it is given."""
    transaction.on_commit(lambda: send(name, *args, countdown=countdown, queue=queue), robust=True)
