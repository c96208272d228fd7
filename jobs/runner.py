"""Running one job on this worker: claim it, hold its lease, run its executor, record the outcome."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from chronoverse import hosts, task_queue
from jobs import selectors, services
from jobs.executors import container, heartbeat, webhook
from jobs.logs import LogWriter
from jobs.models import Job
from jobs.outcome import InfrastructureError, Outcome, UserAtCapacity
from workflows.models import WorkflowKind
from workflows.payloads import payload_with_defaults

logger = logging.getLogger(__name__)

# How often a running container job looks for a cancel request.
CANCEL_POLL_SECONDS = 1.0
# How soon a job whose user is at MAX_RUNNING_JOBS_PER_USER is offered to a worker again.
USER_CAPACITY_RETRY_SECONDS = 2

EXECUTORS: dict[str, Callable[[Job, dict, LogWriter, threading.Event], Outcome]] = {
    WorkflowKind.HEARTBEAT: heartbeat.run,
    WorkflowKind.CONTAINER: container.run,
    WorkflowKind.WEBHOOK: webhook.run,
}


def worker_name() -> str:
    return f"{hosts.this_host()}:{threading.get_native_id()}"


class LeaseKeeper(threading.Thread):
    """Renews the job's lease while it runs; sets `cancel` when the job stops being ours or, for a
    container job, when a cancel is requested (the executor then stops the container itself).

    It also sets `cancel` when the lease has not been renewed for a whole lease period (the database
    unreachable from here, say): by then the reaper may have handed the job to another host, and
    stopping the container here keeps the job from running twice at once."""

    def __init__(self, job_id, worker: str, cancel: threading.Event, *, watch_cancel: bool):
        super().__init__(name=f"lease-{job_id}", daemon=True)
        self.job_id, self.worker, self.cancel = job_id, worker, cancel
        self.watch_cancel = watch_cancel
        self.done = threading.Event()

    def run(self) -> None:
        renew_every = max(0.5, settings.JOB_LEASE_SECONDS / 3)
        poll = min(renew_every, CANCEL_POLL_SECONDS) if self.watch_cancel else renew_every
        renewed = time.monotonic()
        try:
            while not self.done.wait(poll):
                try:
                    if time.monotonic() - renewed >= renew_every - 0.01:
                        # Renewal goes on while a canceled container is being stopped (it may take the grace).
                        if not services.job_renew_lease(job_id=self.job_id, worker=self.worker):
                            self.cancel.set()
                            return
                        renewed = time.monotonic()
                    if (
                        self.watch_cancel
                        and not self.cancel.is_set()
                        and selectors.job_cancel_requested(job_id=self.job_id)
                    ):
                        self.cancel.set()
                except Exception:
                    logger.exception("renewing the lease of job %s failed", self.job_id)
                    if time.monotonic() - renewed >= settings.JOB_LEASE_SECONDS:
                        logger.error("job %s: lease lapsed unrenewed, stopping it here", self.job_id)
                        self.cancel.set()
                        return
        finally:
            connection.close()


def job_execute(*, job_id, worker: str | None = None) -> str | None:
    """Run a queued job to its end here; returns its final status, or None if another worker has it."""
    worker = worker or worker_name()
    try:
        job = services.job_claim(job_id=job_id, worker=worker, host=hosts.this_host())
    except UserAtCapacity:
        # Not this worker's slot to hold: the job waits QUEUED and is offered again shortly.
        task_queue.send(task_queue.EXECUTE_JOB, str(job_id), countdown=USER_CAPACITY_RETRY_SECONDS)
        return None
    if job is None:
        return None
    cancel = threading.Event()
    keeper = LeaseKeeper(job.pk, worker, cancel, watch_cancel=job.workflow.kind == WorkflowKind.CONTAINER)
    keeper.start()
    outcome: Outcome | None = None
    try:
        with LogWriter(job.pk) as log:
            try:
                payload = payload_with_defaults(job.workflow.kind, job.workflow.payload)
                outcome = EXECUTORS[job.workflow.kind](job, payload, log, cancel)
            except InfrastructureError as exc:
                log.write("stderr", f"…[platform error, will retry: {exc}]")
                keeper.done.set()
                # Another host may have what this one lacks (the image, a working engine).
                return (
                    services.job_retry_or_fail(job=job, reason=str(exc), worker=worker, avoid_host=hosts.this_host())
                    or None
                )
            except Exception as exc:
                logger.exception("job %s crashed", job.pk)
                log.write("stderr", f"…[internal error: {type(exc).__name__}: {exc}]")
                outcome = Outcome(False, f"Internal error: {type(exc).__name__}")
    finally:
        keeper.done.set()
    if cancel.is_set():
        # A requested cancel is ours to record now that the container is stopped; a job taken over by
        # the reaper (or canceled outright) was recorded by whoever did that.
        services.job_cancel_complete(job=job, worker=worker)
    else:
        services.job_finish(job=job, outcome=outcome, worker=worker)
    return Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
