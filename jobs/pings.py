"""Pings: the calls a ping workflow's own job (a cron line on another machine) makes to its
`ping_url`, and the slots they settle (the contract's "Pings").

Each slot S of a ping workflow has one job, waiting RUNNING under the PING_WORKER from S with its
lease as the deadline S + grace. The first success or failure ping between S - grace and S + grace
settles it; a ping before the tick reached S creates the slot's job itself (the tick's unique key
then inserts no second one); past the deadline the tick fails it in one query. Every ping is kept.

Pings are received in batches (`pings_receive`): the web process's ping ingress gathers the pings
that arrive while the previous batch commits, so a burst costs a few statements and one commit
per batch rather than per ping. A batch of one is the plain case.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from chronoverse.ratelimit import rate_limit_hits
from jobs import services
from jobs.logs import LogWriter
from jobs.models import PING_WORKER, Job, JobStatus, JobTrigger, Ping, PingKind
from jobs.outcome import Outcome
from jobs.rollups import atomic_with_rollups
from notifications import dashboard
from workflows.models import Workflow, ping_grace
from workflows.pings import KEY_SHAPE, key_digest, key_matches

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 100 * 1024
NO_PING = "no ping within grace"
ANSWER_TEXT = {200: "OK", 404: "Not found", 429: "Too many pings", 500: "Server error"}


@dataclass(frozen=True)
class PingCall:
    key: str
    kind: str  # PingKind
    exit_status: int | None = None
    remote_addr: str = ""
    user_agent: str = ""
    body: bytes = b""


@dataclass(frozen=True)
class PingAnswer:
    status: int  # 200, 404 or 429
    retry_after: float = 0.0


def ping_signal(signal: str) -> tuple[str, int | None] | None:
    """The kind and exit status a ping path's last part names (`""`, `start`, `fail`, `0`..`255`);
    None for anything else, which is a 404."""
    if signal in ("", "start", "fail"):
        return {"": PingKind.SUCCESS, "start": PingKind.START, "fail": PingKind.FAIL}[signal], None
    if signal.isdigit() and len(signal) <= 3 and int(signal) <= 255:
        exit_status = int(signal)
        return (PingKind.SUCCESS if exit_status == 0 else PingKind.FAIL), exit_status
    return None


def grace_of(workflow: Workflow) -> timedelta:
    return timedelta(seconds=ping_grace(workflow.payload))


def ping_receive(call: PingCall, *, now: datetime | None = None) -> PingAnswer:
    return pings_receive([call], now=now)[0]


def pings_receive(calls: Sequence[PingCall], *, now: datetime | None = None) -> list[PingAnswer]:
    """Record pings and settle the slots they belong to, in the order given: in one transaction
    when a slot is settled, else in one INSERT. An unknown key (or a terminated workflow's) is a
    404, a key past its rate a 429; a key's shape is checked before any query."""
    answers: list[PingAnswer | None] = [None] * len(calls)
    digests: dict[int, str] = {}
    for index, call in enumerate(calls):
        if KEY_SHAPE.match(call.key):
            digests[index] = key_digest(call.key)
        else:
            answers[index] = PingAnswer(404)
    for (index, _), decision in zip(digests.items(), rate_limit_hits("ping", list(digests.values())), strict=True):
        if not decision.allowed:
            answers[index] = PingAnswer(429, decision.retry_after)
    admitted = [index for index in digests if answers[index] is None]
    if admitted:
        _record(calls, admitted, digests, answers, now or timezone.now())
    return [answer or PingAnswer(200) for answer in answers]


def _record(
    calls: Sequence[PingCall],
    admitted: list[int],
    digests: dict[int, str],
    answers: list[PingAnswer | None],
    now: datetime,
) -> None:
    # No row lock: pings of one workflow may race, and nothing needs them in turn. Settling is a
    # conditional update (one ping wins the slot) and an early slot's job has a unique key.
    by_digest = {
        workflow.ping_key_digest: workflow
        for workflow in Workflow.objects.select_related("user").filter(
            ping_key_digest__in={digests[index] for index in admitted}, terminated_at__isnull=True
        )
    }
    accepted: list[tuple[int, Workflow]] = []
    for index in admitted:
        workflow = by_digest.get(digests[index])
        if workflow is None or not workflow.is_ping or not key_matches(workflow, calls[index].key):
            answers[index] = PingAnswer(404)
        else:
            accepted.append((index, workflow))
    # A paused workflow records the ping and settles nothing.
    by_pk = {workflow.pk: workflow for _, workflow in accepted if not workflow.is_paused}
    found = _slots_find(by_pk, now)
    if not found.waiting and not found.coming:
        # Nothing to settle (the common case of a burst): the pings alone, in one statement.
        burst = [_ping_row(calls[index], workflow, None, now) for index, workflow in accepted]
        _pings_insert(burst)
        _announce(burst)
        return
    rows: list[Ping] = []
    # The jobs it finishes and the lines it stores are counted at its end (jobs.rollups).
    with atomic_with_rollups():
        slots = _slots_claim(found, by_pk, now)
        # Rounds: each settles at most one slot per workflow, so that a workflow's next ping in the
        # batch finds the slot that follows (as one after the other would). One round, but for bursts.
        queue = accepted
        while queue:
            later: list[tuple[int, Workflow]] = []
            settled: dict[UUID, Workflow] = {}
            successes: list[tuple[Job, int | None]] = []
            for index, workflow in queue:
                if workflow.pk in settled:
                    later.append((index, workflow))
                    continue
                call, job = calls[index], slots.get(workflow.pk)
                rows.append(_ping_row(call, workflow, job, now))
                if job is None:
                    continue
                if call.kind == PingKind.START:
                    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(started_at=now, updated_at=now)
                    job.started_at = now
                    continue
                if rows[-1].body:
                    # Written on this transaction's connection (no flusher thread): the job may be new in it.
                    log = LogWriter(job.pk)
                    log.feed("stdout", rows[-1].body)
                    log.close()
                settled[workflow.pk] = workflow
                if call.kind == PingKind.FAIL:
                    services.job_finish(job=job, outcome=_outcome(call), worker=PING_WORKER)
                else:
                    successes.append((job, call.exit_status))
            if successes:
                services.held_jobs_complete(jobs=successes, worker=PING_WORKER)
            queue = later
            if queue:
                slots.update(_slots_claim(_slots_find(settled, now), settled, now))
        Ping.objects.bulk_create(rows)
        _announce(rows)


def _announce(rows: list[Ping]) -> None:
    """The workflow pages that show these pings read them again: one message per workflow, once
    the rows are in (after commit, inside a transaction)."""
    workflows = {row.workflow_id: row.workflow.user_id for row in rows}
    dashboard.publish_on_commit(
        [(user_id, {"type": "ping", "workflow_id": str(workflow_id)}) for workflow_id, user_id in workflows.items()]
    )


def _pings_insert(rows: list[Ping]) -> None:
    """The rows in one INSERT of arrays: outside a transaction, one round trip to the database
    (bulk_create would wrap it in BEGIN and COMMIT, two more on the hottest path)."""
    if not rows:
        return
    columns = {
        "workflow_id": "uuid",
        "job_id": "uuid",
        "kind": "varchar",
        "exit_status": "int",
        "received_at": "timestamptz",
        "remote_addr": "varchar",
        "user_agent": "varchar",
        "body": "text",
    }
    arrays = ", ".join(f"%s::{kind}[]" for kind in columns.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Ping._meta.db_table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})",
            [[getattr(row, column) for row in rows] for column in columns],
        )


def _ping_row(call: PingCall, workflow: Workflow, job: Job | None, now: datetime) -> Ping:
    return Ping(
        workflow=workflow,
        job=job,
        kind=call.kind,
        exit_status=call.exit_status,
        received_at=now,
        remote_addr=call.remote_addr[:64],
        user_agent=call.user_agent[:512],
        body=call.body[:MAX_BODY_BYTES].decode("utf-8", "replace"),
    )


def _outcome(call: PingCall) -> Outcome:
    return Outcome(False, "The job reported a failure (ping /fail)", call.exit_status)


@dataclass(frozen=True)
class _Slots:
    waiting: dict[UUID, Job]  # per workflow, its job waiting for a ping whose window holds now
    coming: dict[UUID, datetime]  # per workflow, the slot whose window holds now, with no job yet


def _slots_find(by_pk: dict[UUID, Workflow], now: datetime) -> _Slots:
    """Which of the workflows' slots a ping now would settle, read without a write or a lock (the
    claim that follows is conditional). Two queries for the whole batch, at most."""
    if not by_pk:
        return _Slots({}, {})
    widest = max(grace_of(workflow) for workflow in by_pk.values())
    waiting: dict[UUID, Job] = {}
    for job in (
        Job.objects.select_related("workflow", "user")
        .filter(workflow_id__in=by_pk, scheduled_at__gte=now - widest, scheduled_at__lte=now + widest)
        .filter(Q(status=JobStatus.RUNNING, worker=PING_WORKER) | Q(status=JobStatus.PENDING))
        .order_by("scheduled_at")
    ):
        grace = grace_of(by_pk[job.workflow_id])
        if job.workflow_id not in waiting and now - grace <= job.scheduled_at <= now + grace:
            waiting[job.workflow_id] = job
    coming = {
        pk: workflow.next_run_at
        for pk, workflow in by_pk.items()
        if pk not in waiting
        and workflow.next_run_at is not None
        and workflow.next_run_at - grace_of(workflow) <= now <= workflow.next_run_at + grace_of(workflow)
    }
    # A coming slot that already has its job (settled, or taken by the dispatch) takes no ping.
    taken = set(
        Job.objects.filter(
            workflow_id__in=coming, scheduled_at__in=set(coming.values()), trigger=JobTrigger.AUTOMATIC
        ).values_list("workflow_id", "scheduled_at")
    )
    return _Slots(waiting, {pk: slot for pk, slot in coming.items() if (pk, slot) not in taken})


def _slots_claim(found: _Slots, by_pk: dict[UUID, Workflow], now: datetime) -> dict[UUID, Job | None]:
    """The job each found slot's ping settles: a waiting one (a PENDING one the tick created a
    moment ago starts waiting now), or the coming slot's, created here. None for a slot taken
    meanwhile."""
    claimed: dict[UUID, Job | None] = {}
    for pk, job in found.waiting.items():
        if job.status == JobStatus.PENDING:
            # Its dispatch has not run yet: it waits from now on.
            Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
                status=JobStatus.RUNNING,
                worker=PING_WORKER,
                lease_expires_at=job.scheduled_at + grace_of(by_pk[pk]),
                updated_at=now,
            )
            job.refresh_from_db()
        claimed[pk] = job if job.status == JobStatus.RUNNING else None
    claimed.update(_slot_jobs_create(found.coming, by_pk))
    return claimed


def _slot_jobs_create(slots: dict[UUID, datetime], by_pk: dict[UUID, Workflow]) -> dict[UUID, Job | None]:
    """The waiting jobs of coming slots, created in one INSERT. A slot whose job the tick created
    meanwhile (the unique key) gets that job if it still waits, else None."""
    if not slots:
        return {}
    rows = [
        Job(
            workflow=by_pk[pk],
            user=by_pk[pk].user,
            trigger=JobTrigger.AUTOMATIC,
            scheduled_at=slot,
            status=JobStatus.RUNNING,
            worker=PING_WORKER,
            lease_expires_at=slot + grace_of(by_pk[pk]),
        )
        for pk, slot in slots.items()
    ]
    Job.objects.bulk_create(rows, ignore_conflicts=True)
    found: dict[UUID, Job | None] = dict.fromkeys(slots)
    for job in (
        Job.objects.select_related("workflow", "user")
        .filter(workflow_id__in=slots, scheduled_at__in=set(slots.values()), trigger=JobTrigger.AUTOMATIC)
        .filter(status=JobStatus.RUNNING, worker=PING_WORKER)
    ):
        if slots.get(job.workflow_id) == job.scheduled_at:
            found[job.workflow_id] = job
    return found


def pings_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Fail the slots whose grace ran out without a ping: one indexed query when there are none."""
    return services.waiting_jobs_expire(
        worker=PING_WORKER, error=lambda job: NO_PING, now=now or timezone.now(), limit=limit
    )
