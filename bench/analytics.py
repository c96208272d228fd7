"""Analytics over one user's long history (seeded by `seed_demo`: N jobs over 30 days, ten log
lines each): p95 of GET /api/v1/analytics and of one workflow's, through the whole request
(auth, DRF, JSON) in process; the anchor is the same figures computed by a plain aggregate over the
jobs and log tables, what the rollups save every request from. Also: seeding's time, and the p95
duration from the rollups' histogram beside the exact one."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import partial

from bench.harness import Result, median, percentile, scaled, timed_ms

NAME = "analytics"

# The same figures as the endpoints, from the tables: counts, durations, the exact nearest-rank
# p95, the log lines, the days of the time series.
PLAIN_AGGREGATE = """
SELECT count(*),
    count(*) FILTER (WHERE status = 'COMPLETED'),
    count(*) FILTER (WHERE status = 'FAILED'),
    sum(duration_seconds) FILTER (WHERE status IN ('COMPLETED', 'FAILED')),
    percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_seconds)
        FILTER (WHERE status IN ('COMPLETED', 'FAILED') AND duration_seconds IS NOT NULL),
    (SELECT count(*) FROM jobs_joblog AS l JOIN jobs_job AS j ON j.id = l.job_id WHERE j.{scope} = %(id)s),
    (SELECT count(*) FROM (
        SELECT date_trunc('day', completed_at, 'UTC') FROM jobs_job
        WHERE {scope} = %(id)s AND completed_at >= %(since)s AND status IN ('COMPLETED', 'FAILED')
        GROUP BY 1) AS days)
FROM jobs_job WHERE {scope} = %(id)s
"""


def run() -> list[Result]:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.services import token_create
    from analytics.seed import seed_demo

    jobs = scaled(smoke=3_000, default=1_000_000, full=3_000_000)
    lines = jobs * 10
    workflows = scaled(smoke=10, default=100, full=300)
    runs = scaled(smoke=5, default=200, full=300)
    plain_runs = scaled(smoke=2, default=3, full=3)

    started = time.perf_counter()
    (user,), seeded = seed_demo(users=1, workflows=workflows, jobs=jobs, logs=lines, email="analytics@example.com")
    seeding = time.perf_counter() - started
    _, token = token_create(user=user, name="bench", scopes=["read"], expires_at=None)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    workflow = seeded[0]
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=29)
    answers: dict[str, dict] = {}

    def get(url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")
        answers.setdefault(url, response.json())

    def plain(scope: str, key) -> tuple:
        with connection.cursor() as cursor:
            cursor.execute(PLAIN_AGGREGATE.format(scope=scope), {"id": key, "since": since})
            return cursor.fetchone()

    exact: dict[str, tuple] = {}

    def remember(scope: str, key) -> None:
        exact[scope] = plain(scope, key)

    size = f"{jobs:,} jobs, {lines:,} log lines"
    results = [
        Result(
            NAME,
            f"seed_demo: {size}",
            "s",
            seeding,
            None,
            "a few minutes at 1,000,000 jobs",
            None,
            limit="Generated in PostgreSQL, a slice of time per transaction; index upkeep of the log table.",
        )
    ]
    endpoints = [
        ("GET /api/v1/analytics?range=30d", "/api/v1/analytics?range=30d", "user_id", user.pk),
        ("GET /api/v1/analytics?range=24h", "/api/v1/analytics?range=24h", "user_id", user.pk),
        (
            "GET /api/v1/analytics/workflows/{id}?range=30d",
            f"/api/v1/analytics/workflows/{workflow.pk}?range=30d",
            "workflow_id",
            workflow.pk,
        ),
    ]
    for name, url, scope, key in endpoints:
        times = timed_ms(partial(get, url), runs)
        aggregate = timed_ms(partial(remember, scope, key), plain_runs)
        p95 = percentile(times, 95)
        results.append(
            Result(
                NAME,
                f"{name}, p95 (p50 {median(times):.1f} ms), {size} of one user",
                "ms",
                p95,
                median(aggregate),
                "< 100 ms p95",
                p95 < 100,
                anchor_is="the same figures by a plain aggregate over the jobs and log tables (median)",
                limit="Five indexed reads of rollups and live counts, then Django and DRF per request.",
            )
        )
    user_answer = answers["/api/v1/analytics?range=30d"]
    total, _, _, _, exact_p95, stored_lines, _ = exact["user_id"]
    if (user_answer["total_jobs"], user_answer["total_logs"]) != (total, stored_lines):
        raise RuntimeError(f"the rollups disagree with the tables: {user_answer} vs {exact['user_id']}")
    p95 = user_answer["p95_job_duration_seconds"]
    results.append(
        Result(
            NAME,
            f"p95 job duration from the rollups' histogram (exact {exact_p95:.3f} s)",
            "s",
            p95,
            exact_p95,
            "within 2.5% of the exact value",
            abs(p95 - exact_p95) <= 0.025 * exact_p95,
            anchor_is="percentile_disc(0.95) over the jobs table",
            limit="5%-wide buckets, reported at their geometric middle.",
        )
    )
    return results
