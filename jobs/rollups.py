"""Rollups: the counters analytics read instead of the jobs table (docs/analytics.md).

A job that finishes (COMPLETED, FAILED, CANCELED) is added, in the transaction that finished it, to
four JobRollup rows (its workflow and all of its user's workflows, for its UTC hour and for all
time) and its duration to the all-time histogram (JobDurationCount); stored log lines are added to
the all-time rows as they are written. Every caller adds a job once: right after the conditional
update that moved it to its final status returned it (and a job is counted only if it is finished
when the addition runs).

A user's rows are updated by each of their jobs, so the order of locks matters: a transaction that
held them and then waited for a workflow or a job row could deadlock with one that holds that row
and waits for them. So the services run in `atomic_with_rollups()`: what is added inside it, by
them or by anything they call, is sent as one statement when it ends, the last statement of the
transaction, with the rows upserted in key order. Every transaction then takes the rollup rows last
and in the same order, and holds them only for its commit.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction

from jobs.models import FINISHED, Job, JobDurationCount, JobRollup

# Durations go into buckets 5% wide from 1 ms up: bucket 0 holds [0, 1 ms), bucket b >= 1 holds
# [1 ms * 1.05^(b-1), 1 ms * 1.05^b); the last one everything from about 3.9 days up.
BUCKET_BASE_SECONDS = 0.001
BUCKET_GROWTH = 1.05
LAST_BUCKET = 400

# The SQL form of duration_bucket (the one the rollups use); a test holds the two together.
_BUCKET_SQL = (
    f"CASE WHEN duration < {BUCKET_BASE_SECONDS} THEN 0 "
    f"ELSE LEAST({LAST_BUCKET}, 1 + floor(ln(duration / {BUCKET_BASE_SECONDS}) / ln({BUCKET_GROWTH}))::int) END"
)

_FINISHED_SQL = ", ".join(f"'{status}'" for status in FINISHED)

# `{source}` yields (user_id, workflow_id, completed_at, status, duration, log_lines) rows: finished
# jobs (log_lines 0), or stored log lines (completed_at, status and duration null).
_ADD_SQL = f"""
WITH src (user_id, workflow_id, completed_at, status, duration, log_lines) AS ({{source}}),
per_job AS (
    SELECT user_id, workflow_id,
        date_trunc('hour', completed_at, 'UTC') AS period,
        CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END AS completed,
        CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END AS failed,
        CASE WHEN status = 'CANCELED' THEN 1 ELSE 0 END AS canceled,
        CASE WHEN status IN ('COMPLETED', 'FAILED') AND duration IS NOT NULL THEN 1 ELSE 0 END AS timed,
        CASE WHEN status IN ('COMPLETED', 'FAILED') THEN coalesce(duration, 0) ELSE 0 END AS duration,
        log_lines
    FROM src
),
sums AS (
    SELECT user_id, workflow_id, period, sum(completed) AS completed, sum(failed) AS failed,
        sum(canceled) AS canceled, sum(timed) AS timed, sum(duration) AS duration, sum(log_lines) AS log_lines
    FROM per_job WHERE period IS NOT NULL
    GROUP BY GROUPING SETS ((user_id, workflow_id, period), (user_id, period))
    UNION ALL
    SELECT user_id, workflow_id, NULL, sum(completed), sum(failed), sum(canceled), sum(timed), sum(duration),
        sum(log_lines)
    FROM per_job
    GROUP BY GROUPING SETS ((user_id, workflow_id), (user_id))
),
counted AS (
    INSERT INTO {JobRollup._meta.db_table} AS r
        (user_id, workflow_id, period, completed, failed, canceled, duration_count, duration_sum, log_lines)
    SELECT user_id, workflow_id, period, completed, failed, canceled, timed, duration, log_lines FROM sums
    ORDER BY user_id, workflow_id NULLS FIRST, period NULLS FIRST
    ON CONFLICT (user_id, workflow_id, period) DO UPDATE SET
        completed = r.completed + EXCLUDED.completed,
        failed = r.failed + EXCLUDED.failed,
        canceled = r.canceled + EXCLUDED.canceled,
        duration_count = r.duration_count + EXCLUDED.duration_count,
        duration_sum = r.duration_sum + EXCLUDED.duration_sum,
        log_lines = r.log_lines + EXCLUDED.log_lines
)
INSERT INTO {JobDurationCount._meta.db_table} AS h (user_id, workflow_id, bucket, count)
SELECT user_id, workflow_id, bucket, count(*) FROM (
    SELECT user_id, workflow_id, {_BUCKET_SQL} AS bucket
    FROM src WHERE status IN ('COMPLETED', 'FAILED') AND duration IS NOT NULL
) AS timed
GROUP BY GROUPING SETS ((user_id, workflow_id, bucket), (user_id, bucket))
ORDER BY user_id, workflow_id NULLS FIRST, bucket
ON CONFLICT (user_id, workflow_id, bucket) DO UPDATE SET count = h.count + EXCLUDED.count
"""

_JOBS = Job._meta.db_table


def duration_bucket(seconds: float) -> int:
    """The histogram bucket of a duration (as the SQL above computes it)."""
    if seconds < BUCKET_BASE_SECONDS:
        return 0
    return min(LAST_BUCKET, 1 + math.floor(math.log(seconds / BUCKET_BASE_SECONDS) / math.log(BUCKET_GROWTH)))


def bucket_value(bucket: int) -> float:
    """The duration a bucket stands for: 0 for the first, else the geometric middle of its bounds
    (within 2.5% of any duration in it; the last bucket is open-ended)."""
    if bucket <= 0:
        return 0.0
    return BUCKET_BASE_SECONDS * BUCKET_GROWTH ** (bucket - 0.5)


def percentile_from_histogram(counts: Sequence[tuple[int, int]], fraction: float) -> float | None:
    """The nearest-rank percentile of (bucket, count) pairs in bucket order; None when empty."""
    total = sum(count for _, count in counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket, count in counts:
        seen += count
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(counts[-1][0])


def _add(source: str, params: Sequence) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_ADD_SQL.format(source=source), params)


_FINISHED_SOURCE = (
    f"SELECT user_id, workflow_id, completed_at, status, duration_seconds, 0::bigint FROM {_JOBS} "
    f"WHERE id = ANY(%s::uuid[]) AND status IN ({_FINISHED_SQL})"
)
_LINES_SOURCE = (
    "SELECT j.user_id, j.workflow_id, NULL::timestamptz, NULL::varchar, NULL::float8, t.lines "
    f"FROM unnest(%s::uuid[], %s::bigint[]) AS t(job_id, lines) JOIN {_JOBS} AS j ON j.id = t.job_id"
)


@dataclass
class _Pending:
    jobs: list = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)  # (job id, lines)


_local = threading.local()


def _pending() -> _Pending | None:
    return getattr(_local, "pending", None)


def _send(pending: _Pending) -> None:
    # Ids as text: callers pass UUIDs or strings, and one array takes one type.
    jobs = list(dict.fromkeys(str(job_id) for job_id in pending.jobs))  # a job is added once
    lines: dict[str, int] = {}
    for job_id, count in pending.lines:
        lines[str(job_id)] = lines.get(str(job_id), 0) + count
    if jobs and lines:
        _add(f"{_FINISHED_SOURCE} UNION ALL {_LINES_SOURCE}", [jobs, list(lines), list(lines.values())])
    elif jobs:
        _add(_FINISHED_SOURCE, [jobs])
    elif lines:
        _add(_LINES_SOURCE, [list(lines), list(lines.values())])


@contextmanager
def atomic_with_rollups() -> Iterator[None]:
    """`transaction.atomic()` whose rollup additions (made by this code or anything it calls) go in
    as one statement at its end: see the module's docstring. Nested, the outermost one sends them;
    what a nested block added is dropped if it raises (its savepoint is rolled back)."""
    with transaction.atomic():
        outer = _pending()
        if outer is not None:
            mark = (len(outer.jobs), len(outer.lines))
            try:
                yield
            except BaseException:
                del outer.jobs[mark[0] :], outer.lines[mark[1] :]
                raise
            return
        pending = _local.pending = _Pending()
        try:
            yield
        finally:
            _local.pending = None
        _send(pending)


def rollups_add_finished(job_ids: Collection) -> None:
    """Add jobs that just reached their final status in this transaction (each exactly once)."""
    if not job_ids:
        return
    pending = _pending()
    if pending is not None:
        pending.jobs.extend(job_ids)
    else:
        _add(_FINISHED_SOURCE, [[str(job_id) for job_id in job_ids]])


def rollups_add_log_lines(job_id, lines: int) -> None:
    """Add `lines` log lines just stored for a job (in the transaction that stored them)."""
    if lines <= 0:
        return
    pending = _pending()
    if pending is not None:
        pending.lines.append((job_id, lines))
    else:
        _add(_LINES_SOURCE, [[str(job_id)], [lines]])


def rollups_add_from(source: str, params: Sequence = ()) -> None:
    """Add what a query yields as (user_id, workflow_id, completed_at, status, duration, log_lines)
    rows: finished jobs (log_lines 0), or log lines stored for a user's workflow (completed_at,
    status and duration null). For histories written in bulk (seed_demo): each job and line once."""
    _add(source, params)


def rollups_delete_for_workflow(*, user_id, workflow_id) -> None:
    """Forget a deleted workflow's own rows; its jobs stay in its user's totals."""
    for model in (JobRollup, JobDurationCount):
        model.objects.filter(user_id=user_id, workflow_id=workflow_id).delete()
