"""Realistic history in bulk (`manage.py seed_demo`), for the demo and the benchmarks.

Users and workflows go in through the ORM (they are few); jobs and log lines are generated inside
PostgreSQL (`generate_series`, set-based INSERTs), a chunk of jobs per transaction, each chunk
added to the rollups in the same transaction (jobs.rollups), so that analytics match the tables
at every point, even if the seeding is interrupted.

Seeded jobs are all finished, spread over the last 30 days on each workflow's own grid; HEARTBEAT
workflows are left running (hourly, cheap), CONTAINER and WEBHOOK ones paused and one in ten
terminated, so that `make run` on a seeded database does nothing heavy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import User
from jobs.models import Job, JobLog
from jobs.rollups import rollups_add_from
from workflows.models import BuildStatus, TerminationReason, Workflow, WorkflowKind

SPAN = timedelta(days=30)
CHUNK_JOBS = 50_000
SEED_PASSWORD = "chronoverse-demo"
# (kind, share of workflows, payload, typical duration in seconds)
KINDS: list[tuple[str, int, dict[str, Any], float]] = [
    (WorkflowKind.HEARTBEAT, 6, {}, 0.05),
    (WorkflowKind.CONTAINER, 3, {"image": "chronoverse/busybox:latest", "command": ["echo", "seeded"]}, 2.5),
    (WorkflowKind.WEBHOOK, 1, {"url": "http://127.0.0.1:9/seeded"}, 0.4),
]


@dataclass(frozen=True)
class Progress:
    jobs: int
    log_lines: int
    total_jobs: int


@dataclass(frozen=True)
class _Segment:
    """Jobs first..last (1-based, newest first) of a workflow that has `jobs` jobs and `lines` lines."""

    workflow: Workflow
    jobs: int
    lines: int
    first: int
    last: int


def _spread(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if n < extra else 0) for n in range(parts)]


def seed_users(*, count: int, email: str | None = None) -> list[User]:
    """`count` accounts seed-<n>@chronoverse.local (or the one given), existing ones reused; new
    ones log in with SEED_PASSWORD."""
    emails = [email] if email else [f"seed-{n}@chronoverse.local" for n in range(1, count + 1)]
    existing = {user.email: user for user in User.objects.filter(email__in=emails)}
    password = make_password(SEED_PASSWORD)
    new = [User(email=address, password=password) for address in emails if address not in existing]
    User.objects.bulk_create(new)
    return [existing.get(address) or User.objects.get(email=address) for address in emails]


def seed_workflows(*, users: list[User], count: int, now: datetime) -> list[Workflow]:
    shares = [kind for kind, share, _, _ in KINDS for _ in range(share)]
    payloads = {kind: payload for kind, _, payload, _ in KINDS}
    workflows = []
    for n in range(count):
        kind = shares[n % len(shares)]
        terminated = n % 10 == 9
        workflows.append(
            Workflow(
                user=users[n % len(users)],
                name=f"seeded {kind.lower()} {n + 1}",
                kind=kind,
                payload=payloads[kind],
                interval=60,
                build_status=BuildStatus.COMPLETED,
                image_ref=payloads[kind].get("image", ""),
                created_at=now - SPAN - timedelta(days=1),
                next_run_at=None if terminated else now + timedelta(minutes=1 + n % 60),
                paused_at=None if terminated or kind == WorkflowKind.HEARTBEAT else now,
                terminated_at=now if terminated else None,
                termination_reason=TerminationReason.MANUAL if terminated else "",
            )
        )
    return Workflow.objects.bulk_create(workflows, batch_size=2000)


def _columns(model: type[models.Model], generated: dict[str, str]) -> tuple[str, str, list]:
    """An INSERT's column list and SELECT list: `generated` SQL for the columns it names, every
    other column its field's default, so that a column added later needs no change here."""
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if isinstance(field, models.AutoField | models.BigAutoField):
            continue
        column = str(field.column)
        columns.append(column)
        if column in generated:
            values.append(generated[column])
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    missing = set(generated) - set(columns)
    assert not missing, f"no such columns: {missing}"
    return ", ".join(columns), ", ".join(values), params


_DURATION_BASE = " ".join(f"WHEN '{kind}' THEN {base}" for kind, _, _, base in KINDS)

# One row per job of the chunk's segments, in a temporary table the chunk's statements share.
_GENERATE = f"""
CREATE TEMPORARY TABLE seed_jobs ON COMMIT DROP AS
SELECT
    -- Time-ordered ids (the UUID version 7 layout: milliseconds, then random bits) go in at the end
    -- of the id indexes, where random ones would touch a page anywhere in them for every row.
    overlay(overlay(md5(random()::text)
        PLACING lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') FROM 1 FOR 12)
        PLACING '7' FROM 13 FOR 1)::uuid AS id,
    workflow_id, user_id, kind, slot, status,
    slot + interval '50 milliseconds' AS started_at,
    slot + interval '50 milliseconds' + make_interval(secs => duration) AS completed_at,
    duration, lines
FROM (
    SELECT s.workflow_id, s.user_id, s.kind,
        %(now)s::timestamptz - %(span)s::interval * g.i / s.jobs AS slot,
        CASE WHEN r < 0.86 THEN 'COMPLETED' WHEN r < 0.97 THEN 'FAILED' ELSE 'CANCELED' END AS status,
        GREATEST(0, LEAST(
            (CASE s.kind {_DURATION_BASE} ELSE 1 END) * exp((random() - 0.5) * 3)
                * (CASE WHEN r >= 0.86 THEN 1.5 ELSE 1 END),
            extract(epoch FROM %(span)s::interval * g.i / s.jobs)::float8 - 0.1
        )) AS duration,
        s.lines / s.jobs + CASE WHEN g.i <= s.lines %% s.jobs THEN 1 ELSE 0 END AS lines
    FROM unnest(%(workflows)s::uuid[], %(users)s::uuid[], %(kinds)s::text[], %(jobs)s::int[], %(lines)s::bigint[],
            %(firsts)s::int[], %(lasts)s::int[])
        AS s(workflow_id, user_id, kind, jobs, lines, first, last)
    CROSS JOIN LATERAL generate_series(s.first, s.last) AS g(i)
    CROSS JOIN LATERAL (SELECT random() + g.i * 0 AS r) AS chance
) AS generated
-- In id order, which the INSERTs that read it keep.
ORDER BY id
"""


def _insert_jobs_sql() -> tuple[str, list]:
    columns, values, params = _columns(
        Job,
        {
            "id": "id",
            "workflow_id": "workflow_id",
            "user_id": "user_id",
            "status": "status",
            "trigger": "'AUTOMATIC'",
            "scheduled_at": "slot",
            "started_at": "started_at",
            "completed_at": "completed_at",
            "duration_seconds": "duration",
            "exit_code": "CASE WHEN kind = 'CONTAINER' AND status <> 'CANCELED' THEN (status = 'FAILED')::int END",
            "error": "CASE status WHEN 'FAILED' THEN 'seeded failure' ELSE '' END",
            "canceled_by": "CASE status WHEN 'CANCELED' THEN 'seed' ELSE '' END",
            "created_at": "slot",
            "updated_at": "completed_at",
        },
    )
    return f"INSERT INTO {Job._meta.db_table} ({columns}) SELECT {values} FROM seed_jobs", params


def _insert_logs_sql() -> tuple[str, list]:
    columns, values, params = _columns(
        JobLog,
        {
            "job_id": "j.id",
            "sequence": "n",
            "stream": "CASE WHEN n %% 5 = 0 THEN 'stderr' ELSE 'stdout' END",
            "message": "CASE WHEN n %% 5 = 0 THEN 'warning: retrying step ' || n "
            "ELSE 'step ' || n || ': processed ' || (n * 37 %% 1000) || ' records' END",
            "timestamp": "j.started_at + make_interval(secs => j.duration * n / (j.lines + 1))",
        },
    )
    return (
        f"INSERT INTO {JobLog._meta.db_table} ({columns}) SELECT {values} "
        "FROM seed_jobs AS j CROSS JOIN LATERAL generate_series(1, j.lines) AS n",
        params,
    )


def _segments(workflows: list[Workflow], jobs: int, logs: int) -> list[list[_Segment]]:
    """The jobs of every workflow in chunks of about CHUNK_JOBS, each chunk a slice of time across
    all workflows (oldest first), so that each chunk's rows land together in the time indexes."""
    counts = _spread(jobs, len(workflows))
    lines = _spread(logs, len(workflows))
    chunks = max(1, math.ceil(jobs / CHUNK_JOBS))
    result = []
    for chunk in range(chunks, 0, -1):  # job 1 is a workflow's newest: the last chunk ends with it
        segments = []
        for workflow, count, workflow_lines in zip(workflows, counts, lines, strict=True):
            first, last = (chunk - 1) * count // chunks + 1, chunk * count // chunks
            if first <= last:
                segments.append(_Segment(workflow, count, workflow_lines, first, last))
        if segments:
            result.append(segments)
    return result


def seed_history(
    *, workflows: list[Workflow], jobs: int, logs: int, now: datetime, progress: Callable[[Progress], None]
) -> None:
    insert_jobs, job_params = _insert_jobs_sql()
    insert_logs, log_params = _insert_logs_sql()
    done_jobs = done_lines = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        trusted = bool(row and row[0])
    for chunk in _segments(workflows, jobs, logs):
        params: dict[str, Any] = {
            "now": now,
            "span": SPAN,
            "workflows": [s.workflow.pk for s in chunk],
            "users": [s.workflow.user_id for s in chunk],
            "kinds": [s.workflow.kind for s in chunk],
            "jobs": [s.jobs for s in chunk],
            "lines": [s.lines for s in chunk],
            "firsts": [s.first for s in chunk],
            "lasts": [s.last for s in chunk],
        }
        with transaction.atomic(), connection.cursor() as cursor:
            if trusted:
                # The rows below reference only rows inserted just before them: checking each
                # foreign key (a lookup per log line) would be most of the work. As pg_restore
                # does, a superuser may skip the checks, for this transaction only.
                cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(_GENERATE, params)
            cursor.execute(insert_jobs, job_params)
            done_jobs += cursor.rowcount
            cursor.execute(insert_logs, log_params)
            done_lines += cursor.rowcount
            rollups_add_from("SELECT user_id, workflow_id, completed_at, status, duration, 0::bigint FROM seed_jobs")
            rollups_add_from(
                "SELECT user_id, workflow_id, NULL::timestamptz, NULL::varchar, NULL::float8, sum(lines)::bigint "
                "FROM seed_jobs GROUP BY user_id, workflow_id HAVING sum(lines) > 0"
            )
            # Dropped at commit anyway; inside a caller's transaction the next chunk needs the name.
            cursor.execute("DROP TABLE seed_jobs")
        progress(Progress(done_jobs, done_lines, jobs))
    with connection.cursor() as cursor:
        # Fresh statistics, or the planner judges a million new rows by an empty table's.
        cursor.execute(f"ANALYZE {Job._meta.db_table}, {JobLog._meta.db_table}, {Workflow._meta.db_table}")


def seed_demo(
    *,
    users: int,
    workflows: int,
    jobs: int,
    logs: int,
    email: str | None = None,
    progress: Callable[[Progress], None] = lambda _: None,
) -> tuple[list[User], list[Workflow]]:
    now = timezone.now()
    accounts = seed_users(count=users, email=email)
    created = seed_workflows(users=accounts, count=workflows, now=now)
    seed_history(workflows=created, jobs=jobs, logs=logs, now=now, progress=progress)
    return accounts, created
