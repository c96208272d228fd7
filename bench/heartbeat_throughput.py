"""HEARTBEAT jobs completed per second end to end: N bare heartbeats due at once, one scheduler
tick, the Celery worker `make run` starts (8 threads) running them, until every job is COMPLETED
with its notifications published. The anchor: N no-op Celery tasks (`celery.ping`) sent to the
same worker on the same Redis, until every one is consumed and acknowledged."""

from __future__ import annotations

import os
import time
from datetime import timedelta

from bench.harness import (
    Result,
    bench_user,
    celery,
    cpu_seconds,
    ended,
    heartbeats,
    postgres_pid,
    scaled,
    wait_until,
)

NAME = "heartbeat_throughput"


def run() -> list[Result]:
    from django.utils import timezone

    from chronoverse.celery import app
    from chronoverse.redis_client import get_redis
    from jobs.models import UNFINISHED, Job, JobStatus
    from jobs.scheduler import scheduler_tick

    count = scaled(smoke=20, default=10_000, full=50_000)
    user = bench_user()
    past = timezone.now() - timedelta(seconds=1)
    heartbeats(user, count, lambda n: past)
    worker = celery("worker", "--pool=threads", "--concurrency=8", "--queues=celery")
    try:
        app.control.ping(timeout=10)  # the worker is up
        postgres = postgres_pid()
        cpu_before = cpu_seconds(worker.pid), cpu_seconds(postgres), time.process_time()
        started = time.perf_counter()
        scheduler_tick()
        # An indexed look for any unfinished job: cheap enough not to weigh on what it waits for.
        wait_until(lambda: not Job.objects.filter(status__in=UNFINISHED).exists(), timeout=600, interval=0.01)
        elapsed = time.perf_counter() - started
        worker_cpu, postgres_cpu, tick_cpu = (
            after - before
            for after, before in zip(
                (cpu_seconds(worker.pid), cpu_seconds(postgres), time.process_time()), cpu_before, strict=True
            )
        )
        if Job.objects.filter(status=JobStatus.COMPLETED).count() != count:
            raise RuntimeError("not every heartbeat completed")
        ours = count / elapsed

        redis = get_redis()
        started = time.perf_counter()
        for _ in range(count):
            app.send_task("celery.ping", queue="celery")
        wait_until(lambda: redis.llen("celery") == 0 and redis.hlen("unacked") == 0, timeout=600, interval=0.01)
        anchor = count / (time.perf_counter() - started)
    finally:
        ended(worker)
    cores = os.cpu_count() or 1
    return [
        Result(
            NAME,
            f"heartbeats completed per second, {count:,} due at once",
            "jobs/s",
            ours,
            anchor,
            ">= 3.0x",
            ours >= 3 * anchor,
            anchor_is="no-op Celery tasks (celery.ping) sent to the same worker until all are acknowledged",
            limit=f"CPU over the {elapsed:.1f} s, measured in this run: the tick {tick_cpu:.1f} s, the worker "
            f"{worker_cpu:.1f} s, PostgreSQL {postgres_cpu:.1f} s, of the {cores * elapsed:.1f} s that {cores} cores "
            f"had; per job, {(tick_cpu + worker_cpu + postgres_cpu) / count * 1e6:.0f} microseconds in all. Bare "
            "heartbeats complete 500 to a task: one locking read, one UPDATE, the rollups and one COPY of two "
            "notifications a job; the tick inserts each job and then updates it to QUEUED. The worker (one "
            "process: its threads share one interpreter lock) is the longest part; a cProfile of its 500-job "
            "batch in one process (about 590 microseconds a job) puts a fifth in building model instances (the "
            "jobs with their workflow and user, two notifications each), a fifth in the Redis pipeline of their "
            "events (two notifications, the followers' status and end), a third in the statements and the "
            "commit. What it would take: rows instead of model instances in the batch, the jobs inserted "
            "QUEUED by the tick (one write a job fewer, see scheduler_tick), and a second worker process.",
        )
    ]
