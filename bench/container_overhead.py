"""A CONTAINER job of busybox `echo hi`, claim to finish (create, start, wait, logs, remove, the
job's rows); the anchor is `docker run --rm` of the same image through the CLI on the same engine."""

from __future__ import annotations

import subprocess
import time

from bench.harness import BUSYBOX, Result, bench_user, busybox_workflow, median, scaled

NAME = "container_overhead"


def run() -> list[Result]:
    from jobs.models import Job, JobStatus
    from jobs.runner import job_execute
    from jobs.services import job_run_manually

    user = bench_user()
    workflow = busybox_workflow(user, ["echo", "hi"])
    runs = scaled(smoke=1, default=10, full=30)
    totals = []
    for _ in range(runs):
        job = job_run_manually(workflow=workflow, user=user)
        Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
        started = time.perf_counter()
        status = job_execute(job_id=job.pk)
        totals.append(time.perf_counter() - started)
        if status != JobStatus.COMPLETED:
            raise RuntimeError(f"job {status}")
    anchors = []
    for _ in range(runs):
        started = time.perf_counter()
        command = ["docker", "run", "--rm", "--network", "none", BUSYBOX, "echo", "hi"]
        subprocess.run(command, check=True, capture_output=True)
        anchors.append(time.perf_counter() - started)
    ours, anchor = median(totals), median(anchors)
    return [
        Result(
            NAME,
            f"claim to finish, busybox echo (median of {runs})",
            "s",
            ours,
            anchor,
            "<= 1.0x docker run --rm",
            ours <= anchor,
            anchor_is="`docker run --rm` through the CLI, same image and engine",
            limit="The engine's create, start and remove; the security options and limits each job container gets.",
        )
    ]
