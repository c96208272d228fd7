"""Lines per second stored from a CONTAINER job that prints N lines (busybox, `seq`), claim to
finish, with two live followers attached (what the SSE endpoint and the job page use); the anchor
is a raw `COPY` of the same lines into the same table."""

from __future__ import annotations

import asyncio
import threading
import time

from bench.harness import Result, bench_user, busybox_workflow, scaled

NAME = "log_ingestion"
FOLLOWERS = 2


def _followers(job_id, counts: list[int]) -> threading.Thread:
    from jobs.live import follow

    async def one(index: int) -> None:
        async for event, _ in follow(job_id):
            if event == "log":
                counts[index] += 1
            elif event == "end":
                return

    async def all_of_them() -> None:
        await asyncio.gather(*(one(index) for index in range(FOLLOWERS)))

    thread = threading.Thread(target=asyncio.run, args=(all_of_them(),), daemon=True)
    thread.start()
    return thread


def _copy(job_id, lines: int) -> float:
    from django.db import connection
    from django.utils import timezone

    from jobs.models import JobLog

    now = timezone.now()
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {JobLog._meta.db_table} (job_id, sequence, stream, message, timestamp) FROM STDIN") as copy,
    ):
        for n in range(1, lines + 1):
            copy.write_row((job_id, n, "stdout", str(n), now))
    return time.perf_counter() - started


def run() -> list[Result]:
    from django.conf import settings

    from jobs.models import Job, JobLog, JobStatus
    from jobs.runner import job_execute
    from jobs.services import job_run_manually

    lines = scaled(smoke=1000, default=1_000_000, full=1_000_000)
    settings.LOG_MAX_LINES_PER_JOB = lines
    user = bench_user()
    workflow = busybox_workflow(user, ["seq", "1", str(lines)])
    job = job_run_manually(workflow=workflow, user=user)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    counts = [0] * FOLLOWERS
    followers = _followers(job.pk, counts)
    time.sleep(0.5)  # subscribed
    started = time.perf_counter()
    status = job_execute(job_id=job.pk)
    elapsed = time.perf_counter() - started
    followers.join(timeout=60)
    stored = JobLog.objects.filter(job=job).count()
    if status != JobStatus.COMPLETED or stored != lines:
        raise RuntimeError(f"job {status}, {stored} of {lines} lines stored")
    anchor_job = Job.objects.create(workflow=workflow, user=user, scheduled_at=job.scheduled_at)
    anchor = lines / _copy(anchor_job.pk, lines)
    ours = lines / elapsed
    return [
        Result(
            NAME,
            f"lines stored per second, {lines:,} lines, {FOLLOWERS} followers (each got {min(counts):,})",
            "lines/s",
            ours,
            anchor,
            ">= 0.5x raw COPY",
            ours >= 0.5 * anchor,
            anchor_is="raw COPY of the same lines into the same table",
            limit="Each line is split, capped, numbered, copied and published on Redis in Python, "
            "on the worker's thread that reads the container's stream: one core's worth of Python per line, "
            "where the anchor's COPY is PostgreSQL's own C. The ratio sits at the goal and moves with the "
            "anchor (raw COPY ran at 99,000 to 144,000 lines/s across runs on this machine). What it would "
            "take to clear it: the split and numbering of a chunk's lines in one pass over the bytes (no "
            "per-line Python objects), or the COPY handed to a second thread while the next chunk is read.",
        )
    ]
