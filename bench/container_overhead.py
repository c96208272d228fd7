"""A CONTAINER job of busybox `echo hi`, claim to finish (create, start, wait, logs, remove, the
job's rows); the anchor is `docker run --rm` of the same image through the CLI on the same engine."""

from __future__ import annotations

import subprocess
import time

from bench.harness import BUSYBOX, Result, bench_user, busybox_workflow, median, scaled

NAME = "container_overhead"


# The sandbox every job container gets (chronoverse/docker_engine.container_create), as CLI flags:
# a second anchor, to tell the engine's cost of those options from the platform's own.
SANDBOX = ["--init", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--memory", "256m"]
SANDBOX += ["--memory-swap", "256m", "--cpus", "1", "--pids-limit", "256"]


def _docker_run(options: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        command = ["docker", "run", "--rm", "--network", "none", *options, BUSYBOX, "echo", "hi"]
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return median(times)


def run() -> list[Result]:
    from chronoverse import docker_engine
    from jobs.models import Job, JobStatus
    from jobs.runner import job_execute
    from jobs.services import job_run_manually

    user = bench_user()
    workflow = busybox_workflow(user, ["echo", "hi"])
    runs = scaled(smoke=1, default=10, full=30)
    # When each job's container has started: the moment the engine's start call returns.
    started_at: list[float] = []
    attach = docker_engine.AttachedContainer.__init__

    def attach_timed(self, container_id: str) -> None:
        attach(self, container_id)
        started_at.append(time.perf_counter())

    docker_engine.AttachedContainer.__init__ = attach_timed  # type: ignore[method-assign]
    totals, to_start = [], []
    try:
        for _ in range(runs):
            job = job_run_manually(workflow=workflow, user=user)
            Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
            started = time.perf_counter()
            status = job_execute(job_id=job.pk)
            totals.append(time.perf_counter() - started)
            to_start.append(started_at[-1] - started)
            if status != JobStatus.COMPLETED:
                raise RuntimeError(f"job {status}")
    finally:
        docker_engine.AttachedContainer.__init__ = attach  # type: ignore[method-assign]
    anchor, sandboxed = _docker_run([], runs), _docker_run(SANDBOX, runs)
    ours, running = median(totals), median(to_start)
    anchor_is = "`docker run --rm` through the CLI, same image and engine"
    limit = (
        f"The engine: RUNNING to container started is {running * 1000:.0f} ms of the {ours * 1000:.0f} ms, most "
        "of it the engine's start (runc, cgroups, the init process); the platform's own statements (claim, "
        "finish, the log's COPY, two notifications) are a few ms each. The job's sandbox costs the engine more "
        f"than a bare run: `docker run --rm` with the same options takes {sandboxed * 1000:.0f} ms, against "
        f"{anchor * 1000:.0f} ms without them. What it would take to go below a bare run: fewer options per "
        "container (no init process, no limits), which the platform will not trade away."
    )
    return [
        Result(
            NAME,
            f"RUNNING to container started, busybox echo (median of {runs})",
            "s",
            running,
            None,
            "-",
            None,
            anchor_is="-",
            limit="Claim, create, attach and start (chronoverse/docker_engine.py).",
        ),
        Result(
            NAME,
            f"claim to finish, busybox echo (median of {runs})",
            "s",
            ours,
            anchor,
            "<= 1.0x docker run --rm",
            ours <= anchor,
            anchor_is=anchor_is,
            limit=limit,
        ),
        Result(
            NAME,
            f"claim to finish against docker run --rm with the job's sandbox options (median of {runs})",
            "s",
            ours,
            sandboxed,
            "-",
            None,
            anchor_is="`docker run --rm --init --cap-drop ALL --security-opt no-new-privileges` with the job's "
            "memory, CPU and process limits",
            limit=limit,
        ),
    ]
