"""Jobs created per second by one scheduler tick with N interval workflows due at once, dispatch
included (each job handed to Celery); the anchor is django-celery-beat's DatabaseScheduler with
the same number of due interval tasks: what its ticks send in at most ANCHOR_SECONDS, with its sync
of their last run times."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from bench.harness import SCALE, Result, bench_user, heartbeats

NAME = "scheduler_tick"
ANCHOR_SECONDS = 30


def _ours(user, count: int) -> float:
    from django.utils import timezone

    from jobs.models import Job
    from jobs.scheduler import scheduler_tick
    from workflows.models import Workflow

    Workflow.objects.filter(user=user).delete()
    past = timezone.now() - timedelta(seconds=1)
    heartbeats(user, count, lambda n: past)
    started = time.perf_counter()
    created = scheduler_tick()
    elapsed = time.perf_counter() - started
    if created != count or Job.objects.filter(workflow__user=user, status="QUEUED").count() != count:
        raise RuntimeError(f"the tick created {created} of {count} jobs")
    return count / elapsed


def _celery_beat(count: int) -> float:
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks
    from django_celery_beat.schedulers import DatabaseScheduler

    from chronoverse.celery import app

    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    last_run = timezone.now() - timedelta(minutes=2)
    PeriodicTask.objects.bulk_create(
        (
            PeriodicTask(name=f"hb-{n}", task="bench.noop", interval=every_minute, last_run_at=last_run)
            for n in range(count)
        ),
        batch_size=5000,
    )
    PeriodicTasks.update_changed()
    # Beat logs each send at INFO; its sends, not its log lines, are what is measured.
    logging.getLogger("celery.beat").setLevel(logging.WARNING)
    scheduler = DatabaseScheduler(app=app)
    sent = 0
    send = scheduler.apply_async

    def counted(*args, **kwargs):
        nonlocal sent
        sent += 1
        return send(*args, **kwargs)

    scheduler.apply_async = counted
    started = time.perf_counter()
    # Beat sends a few dozen a second whatever the number due (a query and one entry per tick):
    # its rate over a bounded time is its rate, and 100,000 would take it half an hour.
    deadline = time.monotonic() + ANCHOR_SECONDS
    while sent < count and time.monotonic() < deadline:
        scheduler.tick()
    scheduler.sync()
    elapsed = time.perf_counter() - started
    if not sent:
        raise RuntimeError("celery beat sent nothing")
    return sent / elapsed


def run() -> list[Result]:
    user = bench_user()
    sizes = {
        "smoke": [20],
        "default": [1_000, 10_000],
        "full": [1_000, 10_000, 100_000],
    }
    series = [(float(count), _ours(user, count)) for count in sizes[SCALE]]
    count, ours = int(series[-1][0]), series[-1][1]
    anchor = _celery_beat(count)
    return [
        Result(
            NAME,
            f"jobs created per second, {count:,} due at once",
            "jobs/s",
            ours,
            anchor,
            ">= 20,000 jobs/s and >= 200x",
            ours >= 20_000 and ours >= 200 * anchor,
            anchor_is=f"django-celery-beat DatabaseScheduler, same number of due interval tasks "
            f"(its rate over at most {ANCHOR_SECONDS} s)",
            limit="Per batch of 1,000: one locking SELECT, one UPDATE of next_run_at, one INSERT of the jobs, "
            "then the dispatch's UPDATE and one Celery message per job (kombu, one Redis round trip each).",
            series=series,
            series_x="workflows due at once",
        )
    ]
