"""How late jobs start under a steady load: N one-minute interval workflows, each on its own
offset within the minute (N due jobs a minute, evenly spread), run for some minutes by the
processes `make run` starts (beat's tick every SCHEDULER_TICK_SECONDS, the control worker, the job worker); p50 and
p99 of started_at - scheduled_at over the jobs due in that time. No anchor: the goal is absolute."""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta

from bench.harness import Result, bench_user, celery, ended, heartbeats, percentile, scaled

NAME = "dispatch_lag"
WARM_UP = 10


def run() -> list[Result]:
    from django.utils import timezone

    from jobs.models import Job
    from workflows.models import Workflow

    per_minute = scaled(smoke=20, default=1000, full=10_000)
    seconds = scaled(smoke=10, default=60, full=300)
    user = bench_user()
    workflows = Workflow.objects.filter(user=user)
    with tempfile.TemporaryDirectory() as directory:
        processes = [
            celery("worker", "--pool=threads", "--concurrency=8", "--queues=celery", "--hostname=jobs@bench"),
            celery("worker", "--pool=threads", "--concurrency=4", "--queues=control", "--hostname=control@bench"),
            celery("beat", f"--schedule={directory}/celerybeat-schedule"),
        ]
        try:
            # The first slot once every process is surely up: the figure is the steady state.
            start = timezone.now() + timedelta(seconds=WARM_UP)
            heartbeats(user, per_minute, lambda n: start + timedelta(seconds=60 * n / per_minute))
            time.sleep(WARM_UP + seconds + 10)  # the last slots of the window, and a margin to finish
        finally:
            ended(*processes)
    window_end = start + timedelta(seconds=seconds)
    lags = [
        (started - scheduled).total_seconds() * 1000
        for scheduled, started in Job.objects.filter(workflow__in=workflows, scheduled_at__lt=window_end).values_list(
            "scheduled_at", "started_at"
        )
        if started is not None
    ]
    due = Job.objects.filter(workflow__in=workflows, scheduled_at__lt=window_end).count()
    if not lags:
        raise RuntimeError("no job started")
    p99 = percentile(lags, 99)
    return [
        Result(
            NAME,
            f"start lag p99 (p50 {percentile(lags, 50):.0f} ms), {per_minute:,} due a minute for "
            f"{seconds} s, {len(lags):,} of {due:,} started",
            "ms",
            p99,
            None,
            "<= 1,000 ms",
            p99 <= 1000 and len(lags) == due,
            limit="A slot waits for beat's next tick (SCHEDULER_TICK_SECONDS, 0.5 s); then the control "
            "worker's tick, the dispatch and the heartbeat batch.",
        )
    ]
