"""Recovery: nothing stays PENDING, QUEUED or RUNNING forever, and no container outlives its job.

Postgres knows every job; Redis may lose its messages (a restart) and workers may die (SIGKILL,
OOM, a lost machine). The reaper, run every few seconds by beat on the control worker, compares
the two:
- PENDING jobs whose dispatch never happened (the process died between commit and dispatch) and
  QUEUED jobs that no worker claimed for JOB_REQUEUE_AFTER_SECONDS (a lost broker message, or a
  retry whose lost host never answered) are handed to workers again; claiming is conditional, so
  a duplicate message is harmless.
- RUNNING jobs whose lease expired lost their worker: the job is taken back (retried or FAILED),
  and its container is salvaged (remaining output saved, killed, removed) by the host whose engine
  holds it, through that host's queue. A retry of a container job starts only once that host has
  killed the lost attempt's container, so the job never runs twice at once; a host that does not
  answer within JOB_REQUEUE_AFTER_SECONDS is taken for dead with its engine, and the retry goes.
- The presence rows of client sockets whose web process died without closing them are removed.

Each worker host cleans its own engine (host_clean): at start, what a crash left there, and then
every HOST_SWEEP_SECONDS, the containers of jobs finished, deleted or retried.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from chronoverse import docker_engine, hosts, task_queue
from chronoverse.docker_engine import EngineUnavailable
from jobs.clients import client_connections_sweep
from jobs.logs import LogWriter, split_lines
from jobs.models import UNFINISHED, WAITING_WORKERS, Job, JobLog, JobStatus, Ping
from jobs.services import job_cancel_complete, job_dispatch, job_retry_or_fail, job_retry_send, jobs_send
from workflows.models import WorkflowKind

logger = logging.getLogger(__name__)

PENDING_GRACE = timedelta(seconds=15)


def reap(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "redispatched": _redispatch(now),
        "expired": _reap_expired_leases(now),
        "stale_client_connections": client_connections_sweep(now=now),
    }


def _redispatch(now: datetime) -> int:
    pending = list(
        Job.objects.filter(status=JobStatus.PENDING, updated_at__lt=now - PENDING_GRACE).values_list("pk", flat=True)[
            :5000
        ]
    )
    count = job_dispatch(job_ids=pending) if pending else 0
    cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS)
    stale = list(
        Job.objects.filter(status=JobStatus.QUEUED, updated_at__lt=cutoff).values_list(
            "pk", "workflow__kind", "workflow__payload"
        )[:5000]
    )
    if stale:
        # Touching updated_at restarts the clock, so a job is re-sent once per period, not every run.
        Job.objects.filter(pk__in=[pk for pk, _, _ in stale], status=JobStatus.QUEUED).update(updated_at=now)
        jobs_send(stale)
        logger.warning("re-sent %d queued job(s) that no worker claimed", len(stale))
    return count + len(stale)


def _reap_expired_leases(now: datetime) -> int:
    expired = list(
        Job.objects.select_related("workflow", "user")
        .filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
        # A slot waiting for a ping, or a job for a client's ack, has its own deadline (jobs.pings, jobs.clients).
        .exclude(worker__in=WAITING_WORKERS)[:500]
    )
    for job in expired:
        if job.cancel_requested_at is not None:
            _finish_requested_cancel(job, now)
            continue
        container = job.workflow.kind == WorkflowKind.CONTAINER
        # Take the job first, conditionally on the lost worker still holding it: a worker that was
        # only slow (not dead) then finds the job gone and cannot record an outcome over ours. A
        # container job's retry waits for its old container to be dead (host_salvage sends it).
        status = job_retry_or_fail(
            job=job,
            reason=f"The worker running this job was lost ({job.worker})",
            worker=job.worker,
            dispatch=not container,
        )
        if not status:
            continue
        logger.warning("job %s lost its worker on host %r: now %s", job.pk, job.host, status)
        if not container:
            continue
        if hosts.is_this_host(job.host):
            # The engine is this process's own: salvage at once, as a one-machine install always has.
            _salvage_and_retry(job, attempt=job.attempt)
        else:
            hosts.send_to_host(job.host, task_queue.HOST_SALVAGE, str(job.pk), job.attempt)
    return len(expired)


def host_salvage(*, job_id, attempt: int) -> None:
    """On the host whose worker lost `attempt` of the job: salvage its containers, then send the
    retry (if the job was retried rather than given up)."""
    job = Job.objects.select_related("workflow", "user").filter(pk=job_id).first()
    if job is None:
        return  # deleted meanwhile: this host's sweep removes what is left
    _salvage_and_retry(job, attempt=attempt)


def _salvage_and_retry(job: Job, *, attempt: int) -> None:
    try:
        _salvage(job, attempt=attempt)
    except (EngineUnavailable, docker_engine.APIError):
        # The engine does not answer: its containers are not running either (or are left for the
        # host's sweep once it answers again), and the job must not wait for it.
        logger.warning("could not salvage the container of job %s", job.pk, exc_info=True)
    retried = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED, attempt=attempt + 1).exists()
    if retried:
        job_retry_send(job_id=job.pk, attempt=attempt + 1)


def _finish_requested_cancel(job: Job, now: datetime) -> None:
    """The worker was lost while stopping a canceled job: kill its container, then report CANCELED
    (the job's host does it, or this process when that is its own host)."""
    if job.workflow.kind != WorkflowKind.CONTAINER:
        job_cancel_complete(job=job, worker=job.worker)
    elif hosts.is_this_host(job.host):
        host_finish_cancel(job_id=job.pk)
    elif job.lease_expires_at and job.lease_expires_at < now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS):
        # Its host has not answered for that long: taken for dead with its engine (and it removes
        # the container of this finished job when it starts again).
        logger.warning("job %s: host %r does not answer, recording the cancel without it", job.pk, job.host)
        job_cancel_complete(job=job, worker=job.worker)
    else:
        # Sent again on each pass until it is done; a message that waited past then is dropped unrun.
        hosts.send_to_host(
            job.host, task_queue.HOST_FINISH_CANCEL, str(job.pk), expires=settings.JOB_REQUEUE_AFTER_SECONDS
        )


def host_finish_cancel(*, job_id) -> None:
    """On the job's host: kill the container of a canceled job whose worker was lost, then record
    CANCELED. Not CANCELED while its container may still run: the reaper asks again next pass."""
    job = (
        Job.objects.select_related("workflow", "user")
        .filter(pk=job_id, status=JobStatus.RUNNING, cancel_requested_at__isnull=False)
        .first()
    )
    if job is None:
        return
    try:
        _salvage(job, attempt=job.attempt)
    except (EngineUnavailable, docker_engine.APIError):
        logger.warning("could not stop the container of canceled job %s", job.pk, exc_info=True)
        return
    job_cancel_complete(job=job, worker=job.worker)


def _salvage(job: Job, *, attempt: int) -> None:
    """Kill the lost attempt's containers, store the output nobody stored, and remove them."""
    for container_id in docker_engine.containers_of_job(job.pk, attempt=attempt):
        docker_engine.container_signal(container_id, "SIGKILL")
        _save_remaining_output(job, container_id)
        docker_engine.container_remove(container_id)


def _save_remaining_output(job: Job, container_id: str) -> None:
    stored = dict(
        JobLog.objects.filter(job=job).values_list("stream").annotate(n=Count("id")).values_list("stream", "n")
    )
    with LogWriter(job.pk) as log:
        for stream in ("stdout", "stderr"):
            skip = stored.get(stream, 0)
            output = docker_engine.container_output(container_id, stream)
            for line in split_lines(output, max_partial=settings.LOG_MAX_LINE_BYTES):
                if skip:
                    skip -= 1
                    continue
                log.write(stream, line)


def host_clean() -> int:
    """This host's sweep (at its worker's start, then every HOST_SWEEP_SECONDS): it says it is
    alive, and removes what its engine holds of jobs that no longer need it."""
    hosts.host_seen()
    return _remove_stale_containers()


def _remove_stale_containers() -> int:
    """Remove containers of finished (or deleted) jobs, and of attempts a retry has superseded."""
    try:
        managed = docker_engine.containers_managed()
    except (EngineUnavailable, docker_engine.APIError):
        logger.warning("could not list job containers", exc_info=True)
        return 0
    if not managed:
        return 0
    current = {
        str(pk): str(attempt)
        for pk, attempt in Job.objects.filter(
            pk__in={job for job, _ in managed.values()}, status__in=UNFINISHED
        ).values_list("pk", "attempt")
    }
    removed = 0
    for container_id, (job_id, attempt) in managed.items():
        if current.get(job_id) != attempt:
            try:
                docker_engine.container_remove(container_id)
                removed += 1
            except (EngineUnavailable, docker_engine.APIError):
                logger.warning("could not remove container %s", container_id, exc_info=True)
    return removed


def logs_prune(*, now: datetime | None = None) -> int:
    """Delete the logs of jobs finished more than LOG_RETENTION_DAYS ago, and pings received before
    then; returns lines deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LOG_RETENTION_DAYS)
    deleted, _ = JobLog.objects.filter(job__completed_at__lt=cutoff).delete()
    Ping.objects.filter(received_at__lt=cutoff).delete()
    return deleted
