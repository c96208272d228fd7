"""The jobs list and the notifications list at N rows (one workflow's jobs, one user's
notifications): p50/p95 of the first page and of page 1,000 through the API (keyset cursors);
the anchor is the same page 1,000 fetched with OFFSET (the same query and serializer, without the
request around them, so the comparison favours the anchor)."""

from __future__ import annotations

from functools import partial

from bench.harness import Result, bench_user, percentile, scaled, timed_ms

NAME = "api_at_depth"
PAGE = 50
DEEP = 1000  # the page number


def _get(client, url: str, params: dict) -> None:
    response = client.get(url, params)
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code}")


def _by_offset(ordered, serializer, offset: int) -> object:
    return serializer(list(ordered[offset : offset + PAGE]), many=True).data


def _seed(user, workflow, rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO jobs_job (id, workflow_id, user_id, status, trigger, scheduled_at, started_at, completed_at,
                duration_seconds, exit_code, error, attempt, worker, canceled_by, infrastructure_failure,
                created_at, updated_at)
            SELECT gen_random_uuid(), %s, %s, 'COMPLETED', 'AUTOMATIC', t, t, t + interval '1 second', 1.0, 0, '',
                1, '', '', false, t, t
            FROM (SELECT now() - n * interval '1 minute' AS t FROM generate_series(1, %s) AS n) AS slots
            """,
            [workflow.pk, user.pk, rows],
        )
        cursor.execute(
            """
            INSERT INTO notifications_notification (id, user_id, kind, payload, read_at, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'JOB_COMPLETED', jsonb_build_object('n', n), NULL,
                now() - n * interval '1 second', now() - n * interval '1 second'
            FROM generate_series(1, %s) AS n
            """,
            [user.pk, rows],
        )
        cursor.execute("ANALYZE jobs_job, notifications_notification")


def run() -> list[Result]:
    from django.test import Client

    from accounts.services import token_create
    from chronoverse.pagination import _encode
    from jobs.api import JobSerializer
    from jobs.models import Job
    from notifications.api import NotificationSerializer
    from notifications.models import Notification
    from workflows.models import BuildStatus, Workflow

    rows = scaled(smoke=60_000, default=1_000_000, full=1_000_000)
    runs = scaled(smoke=5, default=100, full=300)
    user = bench_user()
    workflow = Workflow.objects.create(
        user=user, name="deep", kind="HEARTBEAT", payload={}, interval=1, build_status=BuildStatus.COMPLETED
    )
    _seed(user, workflow, rows)
    _, token = token_create(user=user, name="bench", scopes=["read"], expires_at=None)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    lists = {
        "jobs list": (f"/api/v1/workflows/{workflow.pk}/jobs", Job.objects.filter(workflow=workflow), JobSerializer),
        "notifications list": ("/api/v1/notifications", Notification.objects.filter(user=user), NotificationSerializer),
    }
    results = []
    offset = (DEEP - 1) * PAGE
    for name, (url, queryset, serializer) in lists.items():
        ordered = queryset.order_by("-created_at", "-id")
        last_of_previous = ordered.values_list("created_at", "id")[offset - 1]
        cursor = _encode(list(last_of_previous))

        first = timed_ms(partial(_get, client, url, {}), runs)
        deep = timed_ms(partial(_get, client, url, {"cursor": cursor}), runs)
        by_offset = timed_ms(partial(_by_offset, ordered, serializer, offset), runs)
        first_p95, deep_p95 = percentile(first, 95), percentile(deep, 95)
        results += [
            Result(
                NAME,
                f"{name}, first page, p95 (p50 {percentile(first, 50):.1f} ms), {rows:,} rows",
                "ms",
                first_p95,
                None,
                "<= 50 ms",
                first_p95 <= 50,
                limit="One range scan of the (owner, created_at, id) index, then Django and DRF per request.",
            ),
            Result(
                NAME,
                f"{name}, page {DEEP:,}, p95 (p50 {percentile(deep, 50):.1f} ms, "
                f"deep/first {deep_p95 / first_p95:.2f})",
                "ms",
                deep_p95,
                percentile(by_offset, 95),
                "<= 50 ms; deep/first <= 1.5",
                deep_p95 <= 50 and deep_p95 / first_p95 <= 1.5,
                anchor_is="the same page with OFFSET (query and serializer only)",
                limit="A cursor page is the same range scan at any depth; OFFSET reads and drops every row before it.",
            ),
        ]
    return results
