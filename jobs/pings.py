"""Pings: the calls a ping workflow's own job (a cron line on another machine) makes to its
`ping_url`, and the slots they settle (the contract's "Pings").

Each slot S of a ping workflow has one job, waiting RUNNING under the PING_WORKER from S with its
lease as the deadline S + grace. The first success or failure ping between S - grace and S + grace
settles it; a ping before the tick reached S creates the slot's job itself (the tick's unique key
then inserts no second one); past the deadline the tick fails it in one query. Every ping is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from chronoverse.ratelimit import rate_limit_hit
from jobs import services
from jobs.logs import LogWriter
from jobs.models import PING_WORKER, Job, JobStatus, JobTrigger, Ping, PingKind
from jobs.outcome import Outcome
from workflows.models import Workflow, ping_grace
from workflows.pings import KEY_SHAPE, key_digest, key_matches

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 100 * 1024
NO_PING = "no ping within grace"


@dataclass(frozen=True)
class PingCall:
    kind: str  # PingKind
    exit_status: int | None = None
    remote_addr: str = ""
    user_agent: str = ""
    body: bytes = b""


@dataclass(frozen=True)
class PingAnswer:
    status: int  # 200, 404 or 429
    retry_after: float = 0.0


def grace_of(workflow: Workflow) -> timedelta:
    return timedelta(seconds=ping_grace(workflow.payload))


def ping_receive(*, key: str, call: PingCall, now: datetime | None = None) -> PingAnswer:
    """Record a ping and settle the slot it belongs to. An unknown key (or a terminated
    workflow's) is a 404, a key past its rate a 429; the key's shape is checked before any query."""
    if not KEY_SHAPE.match(key):
        return PingAnswer(404)
    digest = key_digest(key)
    decision = rate_limit_hit("ping", digest)
    if not decision.allowed:
        return PingAnswer(429, decision.retry_after)
    now = now or timezone.now()
    with transaction.atomic():
        # No row lock: pings of one workflow may race, and nothing needs them in turn. Settling is a
        # conditional update (one ping wins the slot) and an early slot's job has a unique key.
        workflow = (
            Workflow.objects.select_related("user").filter(ping_key_digest=digest, terminated_at__isnull=True).first()
        )
        if workflow is None or not workflow.is_ping or not key_matches(workflow, key):
            return PingAnswer(404)
        # A paused workflow records the ping and settles nothing.
        job = None if workflow.is_paused else _slot_job(workflow, now)
        ping = Ping.objects.create(
            workflow=workflow,
            job=job,
            kind=call.kind,
            exit_status=call.exit_status,
            received_at=now,
            remote_addr=call.remote_addr[:64],
            user_agent=call.user_agent[:512],
            body=call.body[:MAX_BODY_BYTES].decode("utf-8", "replace"),
        )
        if job is None:
            return PingAnswer(200)
        if call.kind == PingKind.START:
            Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(started_at=now, updated_at=now)
            return PingAnswer(200)
        services.job_finish(job=job, outcome=_outcome(call), worker=PING_WORKER)
        if ping.body:
            # Written on this transaction's connection (no flusher thread): the job may be new in it.
            # After the finish, which locks the workflow before its rollup rows: storing lines adds
            # to those rows too, and every transaction takes the two in that order.
            log = LogWriter(job.pk)
            log.feed("stdout", ping.body)
            log.close()
    return PingAnswer(200)


def _outcome(call: PingCall) -> Outcome:
    if call.kind == PingKind.FAIL:
        return Outcome(False, "The job reported a failure (ping /fail)", call.exit_status)
    return Outcome(True, "", call.exit_status)


def _slot_job(workflow: Workflow, now: datetime) -> Job | None:
    """The waiting job whose window (S - grace .. S + grace) holds `now`; or, for the coming or just
    due slot the tick has not reached yet, that slot's job, created here. None outside any window."""
    grace = grace_of(workflow)
    waiting = (
        Job.objects.select_related("workflow", "user")
        .filter(workflow=workflow, scheduled_at__gte=now - grace, scheduled_at__lte=now + grace)
        .filter(Q(status=JobStatus.RUNNING, worker=PING_WORKER) | Q(status=JobStatus.PENDING))
        .order_by("scheduled_at")
        .first()
    )
    if waiting is not None and waiting.status == JobStatus.PENDING:
        # The tick created it a moment ago and its dispatch has not run yet: it waits from now on.
        Job.objects.filter(pk=waiting.pk, status=JobStatus.PENDING).update(
            status=JobStatus.RUNNING, worker=PING_WORKER, lease_expires_at=waiting.scheduled_at + grace, updated_at=now
        )
        waiting.refresh_from_db()
    if waiting is not None and waiting.status == JobStatus.RUNNING:
        return waiting
    slot = workflow.next_run_at
    if slot is None or not slot - grace <= now <= slot + grace:
        return None
    try:
        with transaction.atomic():
            job = Job.objects.create(
                workflow=workflow,
                user=workflow.user,
                trigger=JobTrigger.AUTOMATIC,
                scheduled_at=slot,
                status=JobStatus.RUNNING,
                worker=PING_WORKER,
                lease_expires_at=slot + grace,
            )
    except IntegrityError:
        # The tick created it meanwhile (under the unique key): it is waiting, or already settled.
        return (
            Job.objects.select_related("workflow", "user")
            .filter(workflow=workflow, scheduled_at=slot, trigger=JobTrigger.AUTOMATIC, status=JobStatus.RUNNING)
            .first()
        )
    return Job.objects.select_related("workflow", "user").get(pk=job.pk)


def pings_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Fail the slots whose grace ran out without a ping: one indexed query when there are none."""
    now = now or timezone.now()
    overdue = list(
        Job.objects.select_related("workflow", "user").filter(
            status=JobStatus.RUNNING, worker=PING_WORKER, lease_expires_at__lt=now
        )[:limit]
    )
    failed = 0
    for job in overdue:
        if services.job_finish(job=job, outcome=Outcome(False, NO_PING), worker=PING_WORKER):
            failed += 1
    return failed
