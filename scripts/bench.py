"""`make bench`: how fast the engine's hot paths are on this machine.

Runs against a database of its own (chronoverse_bench, recreated each run) and Redis database 3,
with the real Docker engine. Prints one line per measurement; nothing here is a pass/fail test.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoverse.settings")
os.environ.setdefault("DATABASE_URL", "postgres://chronoverse@127.0.0.1:5433/chronoverse_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6380/3")
# Requests made in this process (analytics) are counted by the API's rate limit like any other.
os.environ.setdefault("RATE_LIMIT_API_USER", "10000000/min")

import psycopg


def recreate_database() -> None:
    import dj_database_url

    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


recreate_database()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from chronoverse.redis_client import get_redis  # noqa: E402
from jobs.logs import LogWriter  # noqa: E402
from jobs.models import Job, JobLog, JobStatus  # noqa: E402
from jobs.runner import job_execute  # noqa: E402
from jobs.scheduler import scheduler_tick  # noqa: E402
from jobs.services import heartbeats_complete, job_run_manually  # noqa: E402
from workflows.models import BuildStatus, Workflow  # noqa: E402


def report(name: str, value: float, unit: str, note: str = "") -> None:
    print(f"{name:<44} {value:>12,.1f} {unit:<10} {note}")


def bench_tick(user: User, count: int = 10_000) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Workflow.objects.bulk_create(
        (
            Workflow(
                user=user,
                name=f"hb-{i}",
                kind="HEARTBEAT",
                payload={},
                interval=1,
                build_status=BuildStatus.COMPLETED,
                next_run_at=past,
            )
            for i in range(count)
        ),
        batch_size=2000,
    )
    started = time.perf_counter()
    created = scheduler_tick()
    elapsed = time.perf_counter() - started
    assert created == count, created
    report(f"scheduler tick: {count:,} due workflows", elapsed, "s", f"({count / elapsed:,.0f} jobs/s, incl. dispatch)")

    ids = list(Job.objects.filter(status=JobStatus.QUEUED).values_list("pk", flat=True))
    started = time.perf_counter()
    for start in range(0, len(ids), 500):
        heartbeats_complete(job_ids=ids[start : start + 500])
    elapsed = time.perf_counter() - started
    report(
        "bare heartbeats completed in batches of 500", len(ids) / elapsed, "jobs/s", "(2 notifications each, published)"
    )


def bench_logs(user: User, lines: int = 90_000) -> None:
    workflow = Workflow.objects.create(
        user=user, name="logs", kind="HEARTBEAT", payload={}, interval=5, build_status=BuildStatus.COMPLETED
    )
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now())
    started = time.perf_counter()
    with LogWriter(job.pk) as log:
        for i in range(lines):
            log.write("stdout", f"log line number {i} with a little text to look like real output")
    elapsed = time.perf_counter() - started
    assert JobLog.objects.filter(job=job).count() == lines
    report(f"log pipeline: {lines:,} lines (COPY + publish)", lines / elapsed, "lines/s")


def bench_containers(user: User, runs: int = 10) -> None:
    workflow = Workflow.objects.create(
        user=user,
        name="busybox",
        kind="CONTAINER",
        interval=60,
        build_status=BuildStatus.COMPLETED,
        image_ref="chronoverse/busybox:latest",
        payload={"image": "chronoverse/busybox:latest", "command": ["echo", "hello"], "network": "none"},
    )
    durations = []
    for _ in range(runs):
        job = job_run_manually(workflow=workflow, user=user)
        Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
        started = time.perf_counter()
        status = job_execute(job_id=job.pk)
        durations.append(time.perf_counter() - started)
        assert status == JobStatus.COMPLETED, status
    report(
        "container job (busybox echo), claim to finish",
        statistics.median(durations),
        "s",
        f"median of {runs}; min {min(durations):.2f} s",
    )


def bench_rrule(calls: int = 200) -> None:
    from workflows.schedule import Plan

    now = timezone.now()
    plan = Plan(
        interval=None,
        schedule={"rrule": "FREQ=MINUTELY;INTERVAL=5"},
        timezone="Europe/Berlin",
        start_at=None,
        end_at=None,
        anchor=now - timedelta(days=365),
    )
    started = time.perf_counter()
    for _ in range(calls):
        plan.next_run(now, now)
    elapsed = time.perf_counter() - started
    report("next run of a year-old minutely rrule", elapsed / calls * 1000, "ms", "(per workflow per tick)")


def _serve(command: list[str], port: int, **extra_env: str):
    import subprocess

    import requests

    env = {**os.environ, "RATE_LIMIT_API_USER": "10000000/min", "DATABASE_CONN_MAX_AGE": "60", **extra_env}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start")


def _load(port: int, token: str, *, clients: int = 20, seconds: float = 10) -> tuple[float, float, float]:
    """`clients` connections of one user listing workflows without pause (wrk, so that the load
    generator leaves the CPU to the server) while /healthz is timed from this process, one request
    at a time; returns (list requests per second, /healthz p50 ms, /healthz p99 ms)."""
    import http.client
    import re
    import subprocess

    wrk = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{seconds}s",
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{port}/api/v1/workflows",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # the load first
    stop = time.monotonic() + seconds - 1
    probes = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop:
        started = time.perf_counter()
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        probes.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    connection.close()
    output, _ = wrk.communicate()
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None or "Non-2xx" in output:
        raise RuntimeError(f"wrk: {output}")
    probes.sort()
    return float(match.group(1)), statistics.median(probes), probes[int(len(probes) * 0.99) - 1]


def bench_web(user: User) -> None:
    """The web tier under 20 busy clients of one user: several Gunicorn/Uvicorn worker processes
    (what `make run` starts) against one Daphne process (what it started before)."""
    import socket
    import subprocess

    from accounts.services import token_create

    for n in range(50):
        Workflow.objects.create(
            user=user, name=f"listed {n}", kind="HEARTBEAT", payload={}, interval=60, build_status=BuildStatus.COMPLETED
        )
    _, token = token_create(user=user, name="bench", scopes=["read"], expires_at=None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    python = str(Path(sys.executable).parent)
    # As supervisord.conf starts it (a connection pool per process), and as `make run` did before.
    gunicorn = [f"{python}/gunicorn", "-c", "gunicorn.conf.py", "chronoverse.asgi:application"]
    daphne = [f"{python}/daphne", "-b", "127.0.0.1", "-p", str(port), "chronoverse.asgi:application"]
    servers = {
        "gunicorn+uvicorn x3": ([*gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "3"], "10"),
        "daphne x1": (daphne, "0"),
    }
    for name, (command, pool) in servers.items():
        process = _serve(command, port, DATABASE_POOL_SIZE=pool)
        try:
            _load(port, token, seconds=2)  # warm-up: connections, caches
            rps, p50, p99 = _load(port, token)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:  # Daphne waits on clients that have gone
                process.kill()
                process.wait()
        report(f"workflow list, 20 clients, {name}", rps, "req/s")
        report(f"/healthz meanwhile, {name}", p99, "ms p99", f"(p50 {p50:.1f} ms)")


def _wrk_latency(url: str, *, seconds: int = 10, connections: int = 20) -> tuple[float, float]:
    """(requests per second, p99 ms) of `url` under wrk; any status counts (the anchor is a 404)."""
    import re
    import subprocess

    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    if rate is None or p99 is None:
        raise RuntimeError(f"wrk: {output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rate.group(1)), float(p99.group(1)) * scale


def bench_pings(user: User) -> None:
    """`/ping/<key>` from 20 connections on what `make run` starts, beside the same view answering a
    key of the wrong shape (Django's request path and the view, without the lookup and the write)."""
    import socket

    from workflows.pings import ping_key
    from workflows.services import workflow_create

    workflow, _ = workflow_create(
        user=user, data={"name": "pinged", "kind": "HEARTBEAT", "payload": {"ping": {"grace": 300}}, "interval": 1}
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    python = str(Path(sys.executable).parent)
    command = [f"{python}/gunicorn", "-c", "gunicorn.conf.py", "chronoverse.asgi:application"]
    process = _serve(
        [*command, "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        port,
        DATABASE_POOL_SIZE="10",
        RATE_LIMIT_PING="100000000/min",
        PING_BASE_URL=f"http://127.0.0.1:{port}",
    )
    try:
        url = f"http://127.0.0.1:{port}/ping/{ping_key(workflow.pk, workflow.ping_key_generation)}"
        _wrk_latency(url, seconds=2)  # warm-up
        pings_rate, pings_p99 = _wrk_latency(url)
        bare_rate, bare_p99 = _wrk_latency(f"http://127.0.0.1:{port}/ping/{'x' * 42}!")
    finally:
        process.terminate()
        process.wait(timeout=20)
    report("pings, 20 connections", pings_rate, "pings/s", f"(p99 {pings_p99:.1f} ms)")
    report("the same view, no lookup (404)", bare_rate, "req/s", f"(p99 {bare_p99:.1f} ms)")


def _latency_ms(call, runs: int) -> tuple[float, float]:
    """(p95, median) of `runs` calls, in milliseconds."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[max(0, int(len(timings) * 0.95) - 1)], statistics.median(timings)


# The same figures as GET /api/v1/analytics, straight from the jobs and log tables (what the
# rollups save every request from): counts, durations, the exact nearest-rank p95, the log lines.
PLAIN_AGGREGATE = """
SELECT count(*),
    count(*) FILTER (WHERE status = 'COMPLETED'),
    count(*) FILTER (WHERE status = 'FAILED'),
    sum(duration_seconds) FILTER (WHERE status IN ('COMPLETED', 'FAILED')),
    percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_seconds)
        FILTER (WHERE status IN ('COMPLETED', 'FAILED') AND duration_seconds IS NOT NULL),
    (SELECT count(*) FROM jobs_joblog AS l JOIN jobs_job AS j ON j.id = l.job_id WHERE j.user_id = %(user)s),
    (SELECT count(*) FROM (
        SELECT date_trunc('day', completed_at, 'UTC') FROM jobs_job
        WHERE user_id = %(user)s AND completed_at >= %(since)s AND status IN ('COMPLETED', 'FAILED')
        GROUP BY 1) AS days)
FROM jobs_job WHERE user_id = %(user)s
"""


def bench_analytics(jobs: int, logs: int, workflows: int = 100, runs: int = 200) -> None:
    """Both analytics endpoints over one user's history of `jobs` jobs and `logs` log lines (seeded
    by seed_demo), in process through the whole Django stack (auth, DRF, JSON), p95 of `runs`
    requests each; beside them the same figures by a plain aggregate over the jobs table."""
    from django.db import connection
    from rest_framework.test import APIClient

    from accounts.services import token_create
    from analytics.seed import seed_demo

    started = time.perf_counter()
    (user,), seeded = seed_demo(users=1, workflows=workflows, jobs=jobs, logs=logs, email="analytics@example.com")
    report(f"seed_demo: {jobs:,} jobs, {logs:,} log lines", time.perf_counter() - started, "s")
    _, token = token_create(user=user, name="bench", scopes=["read"], expires_at=None)
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    workflow = seeded[0]
    figures: dict = {}
    for name, url in [
        ("GET /api/v1/analytics?range=30d", "/api/v1/analytics?range=30d"),
        ("GET /api/v1/analytics?range=24h", "/api/v1/analytics?range=24h"),
        ("GET /api/v1/analytics/workflows/{id}", f"/api/v1/analytics/workflows/{workflow.pk}?range=30d"),
    ]:

        def get(url: str = url) -> None:
            response = client.get(url)
            assert response.status_code == 200, response.content
            figures.setdefault(url, response.json())

        get()  # warm-up: connection, caches
        p95, p50 = _latency_ms(get, runs)
        report(name, p95, "ms p95", f"(median {p50:.1f} ms; {runs} requests, {jobs:,} jobs of one user)")
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=29)

    def plain() -> None:
        with connection.cursor() as cursor:
            cursor.execute(PLAIN_AGGREGATE, {"user": user.pk, "since": since})
            figures["plain"] = cursor.fetchone()

    p95, p50 = _latency_ms(plain, 3)
    report("the same by a plain aggregate over jobs", p95, "ms p95", f"(median {p50:,.1f} ms; 3 runs)")
    api = figures["/api/v1/analytics?range=30d"]
    total, completed, failed, duration, p95, lines, _ = figures["plain"]
    print(
        f"  rollups: {api['total_jobs']:,} jobs, success {api['success_rate']:.4f}, "
        f"{api['total_job_execution_duration']:,.1f} s, p95 {api['p95_job_duration_seconds']:.3f} s, "
        f"{api['total_logs']:,} lines"
    )
    print(
        f"  plain:   {total:,} jobs, success {completed / (completed + failed):.4f}, "
        f"{duration:,.1f} s, p95 {p95:.3f} s (exact), {lines:,} lines"
    )


BENCHES = ["tick", "logs", "containers", "rrule", "web", "pings", "analytics"]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=BENCHES, action="append", help="run only these (repeatable)")
    parser.add_argument(
        "--analytics-jobs", type=int, default=200_000, help="one user's jobs for the analytics bench (default 200,000)"
    )
    parser.add_argument("--analytics-logs", type=int, help="their log lines (default ten per job)")
    args = parser.parse_args()
    only = set(args.only or BENCHES)
    call_command("migrate", verbosity=0)
    get_redis().flushdb()
    user = User.objects.create_user(email="bench@example.com", password="bench-password")
    print(f"{'measurement':<44} {'value':>12} unit")
    if "tick" in only:
        bench_tick(user)
    if "logs" in only:
        bench_logs(user)
    if "containers" in only:
        bench_containers(user)
    if "rrule" in only:
        bench_rrule()
    if "web" in only:
        bench_web(user)
    if "pings" in only:
        bench_pings(user)
    if "analytics" in only:
        jobs = args.analytics_jobs
        bench_analytics(jobs, args.analytics_logs if args.analytics_logs is not None else jobs * 10)


if __name__ == "__main__":
    main()
