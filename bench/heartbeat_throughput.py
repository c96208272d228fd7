"""HEARTBEAT jobs completed per second end to end: N bare heartbeats due at once, one scheduler
tick, the Celery worker `make run` starts (8 threads) running them, until every job is COMPLETED
with its notifications published. The anchor: N no-op Celery tasks (`celery.ping`) sent to the
same worker on the same Redis, until every one is consumed and acknowledged."""

from __future__ import annotations

import time
from datetime import timedelta

from bench.harness import Result, bench_user, celery, ended, heartbeats, scaled

NAME = "heartbeat_throughput"


def _wait(done, deadline: float) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("not done in time")
        time.sleep(0.01)


def run() -> list[Result]:
    from django.utils import timezone

    from chronoverse.celery import app
    from chronoverse.redis_client import get_redis
    from jobs.models import Job, JobStatus
    from jobs.scheduler import scheduler_tick

    count = scaled(smoke=20, default=10_000, full=50_000)
    user = bench_user()
    past = timezone.now() - timedelta(seconds=1)
    heartbeats(user, count, lambda n: past)
    worker = celery("worker", "--pool=threads", "--concurrency=8", "--queues=celery")
    try:
        app.control.ping(timeout=10)  # the worker is up
        started = time.perf_counter()
        scheduler_tick()
        _wait(
            lambda: Job.objects.filter(status=JobStatus.COMPLETED).count() == count,
            time.monotonic() + 600,
        )
        ours = count / (time.perf_counter() - started)

        redis = get_redis()
        started = time.perf_counter()
        for _ in range(count):
            app.send_task("celery.ping", queue="celery")
        _wait(lambda: redis.llen("celery") == 0 and redis.hlen("unacked") == 0, time.monotonic() + 600)
        anchor = count / (time.perf_counter() - started)
    finally:
        ended(worker)
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
            limit="Bare heartbeats complete in batches of 500 per task (a few statements and one COPY of "
            "notifications each); the tick and the worker share two cores with Postgres.",
        )
    ]
