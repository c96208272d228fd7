"""Recovery: nothing stays PENDING, QUEUED or RUNNING forever, and no container outlives its job.

Postgres knows every job; Redis may lose its messages (a restart) and workers may die (SIGKILL,
OOM, a lost machine). The reaper, run every few seconds by beat, compares the two:
- PENDING jobs whose dispatch never happened (the process died between commit and dispatch) and
  QUEUED jobs that no worker claimed for JOB_REQUEUE_AFTER_SECONDS (a lost broker message) are
  handed to workers again; claiming is conditional, so a duplicate message is harmless.
- RUNNING jobs whose lease expired lost their worker: their container is found by label, its
  remaining output saved, it is stopped and removed, and the job is retried or FAILED.
- Containers labelled for a job that is finished or gone are removed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from jobs import docker_engine
from jobs.docker_engine import EngineUnavailable
from jobs.logs import LogLine, copy_lines
from jobs.models import UNFINISHED, Job, JobLog, JobStatus
from workflows.models import WorkflowKind

logger = logging.getLogger(__name__)

PENDING_GRACE = timedelta(seconds=15)


def reap(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "redispatched": _redispatch(now),
        "expired": _reap_expired_leases(now),
        "orphans": _remove_orphan_containers(),
    }


def _redispatch(now: datetime) -> int:
    from jobs.services import job_dispatch
    from jobs.tasks import execute_job, run_heartbeats

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
        from jobs.services import is_bare_heartbeat

        bare = [str(pk) for pk, kind, payload in stale if is_bare_heartbeat(kind, payload)]
        if bare:
            run_heartbeats.delay(bare)
        for pk, kind, payload in stale:
            if not is_bare_heartbeat(kind, payload):
                execute_job.delay(str(pk))
        logger.warning("re-sent %d queued job(s) that no worker claimed", len(stale))
    return count + len(stale)


def _reap_expired_leases(now: datetime) -> int:
    from jobs.services import job_retry_or_fail

    expired = list(
        Job.objects.select_related("workflow", "user").filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)[:500]
    )
    for job in expired:
        if job.workflow.kind == WorkflowKind.CONTAINER:
            try:
                _salvage_containers(job)
            except EngineUnavailable:
                logger.warning("engine unreachable: job %s's container is left for the next run", job.pk)
                continue
        status = job_retry_or_fail(job=job, reason=f"The worker running this job was lost ({job.worker})")
        logger.warning("job %s lost its worker: now %s", job.pk, status or "unchanged")
    return len(expired)


def _salvage_containers(job: Job) -> None:
    """Save the output a dead worker never stored, then stop and remove the job's containers."""
    for container_id in docker_engine.containers_of_job(job.pk):
        docker_engine.container_stop(container_id, grace=settings.CONTAINER_STOP_GRACE_SECONDS)
        _save_remaining_output(job, container_id)
        docker_engine.container_remove(container_id)


def _save_remaining_output(job: Job, container_id: str) -> None:
    stored = dict.fromkeys(("stdout", "stderr"), 0)
    for stream, count in _stored_counts(job):
        stored[stream] = count
    seen = dict.fromkeys(("stdout", "stderr"), 0)
    last = JobLog.objects.filter(job=job).order_by("-sequence").values_list("sequence", flat=True).first() or 0
    missing: list[LogLine] = []
    for stamp, stream, text in docker_engine.container_logs(container_id):
        seen[stream] += 1
        if seen[stream] <= stored[stream]:
            continue
        last += 1
        missing.append(LogLine(last, stream, text, _parse_stamp(stamp)))
    if missing:
        copy_lines(job.pk, missing)


def _stored_counts(job: Job):
    from django.db.models import Count

    return JobLog.objects.filter(job=job).values_list("stream").annotate(n=Count("id")).values_list("stream", "n")


def _parse_stamp(stamp: str) -> datetime:
    # The engine writes nanoseconds; Python keeps microseconds.
    try:
        head, _, frac = stamp.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    except ValueError:
        return datetime.now(UTC)


def _remove_orphan_containers() -> int:
    try:
        managed = docker_engine.containers_managed()
    except EngineUnavailable:
        return 0
    if not managed:
        return 0
    live = {
        str(pk)
        for pk in Job.objects.filter(pk__in=set(managed.values()), status__in=UNFINISHED).values_list("pk", flat=True)
    }
    removed = 0
    for container_id, job_id in managed.items():
        if job_id not in live:
            docker_engine.container_remove(container_id)
            removed += 1
    return removed


def logs_prune(*, now: datetime | None = None) -> int:
    """Delete the logs of jobs finished more than LOG_RETENTION_DAYS ago; returns lines deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LOG_RETENTION_DAYS)
    deleted, _ = JobLog.objects.filter(job__completed_at__lt=cutoff).delete()
    return deleted
