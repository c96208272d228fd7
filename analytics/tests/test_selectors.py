"""Every figure of a user's and a workflow's analytics against a hand-built history."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from analytics.selectors import RANGES, analytics_range, user_analytics, workflow_analytics
from chronoverse.errors import ServiceError
from jobs import services
from jobs.models import JobDurationCount, JobRollup, JobStatus
from jobs.rollups import bucket_value, duration_bucket, percentile_from_histogram
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 3, 10, 30, 45, 123000, tzinfo=UTC)
ZERO_STATUSES = dict.fromkeys(JobStatus.values, 0)


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def test_an_empty_history_is_zeros_and_a_null_success_rate(user):
    figures = user_analytics(user=user, window=RANGES["24h"], now=NOW)

    assert figures == {
        "total_workflows": 0,
        "workflows_by_kind": {"HEARTBEAT": 0, "CONTAINER": 0, "WEBHOOK": 0, "WEBSOCKET": 0},
        "active_workflows": 0,
        "paused_workflows": 0,
        "terminated_workflows": 0,
        "total_jobs": 0,
        "jobs_by_status": ZERO_STATUSES,
        "success_rate": None,
        "total_job_execution_duration": 0.0,
        "avg_job_duration_seconds": 0.0,
        "p95_job_duration_seconds": 0.0,
        "total_logs": 0,
        "timeseries": [
            {"bucket": f"2026-03-0{2 if hour > 10 else 3}T{hour:02d}:00:00.000Z", "completed": 0, "failed": 0}
            for hour in [*range(11, 24), *range(0, 11)]
        ],
    }


def test_workflows_are_counted_by_kind_and_state(user, make_user, make_workflow):
    make_workflow(kind="HEARTBEAT")
    make_workflow(kind="WEBHOOK")
    make_workflow(kind="WEBSOCKET")
    paused = make_workflow(kind="HEARTBEAT")
    workflow_services.workflow_pause(workflow=paused)
    stopped = make_workflow(kind="CONTAINER")
    services.workflow_stop(workflow=stopped)
    paused_then_stopped = make_workflow(kind="HEARTBEAT")
    workflow_services.workflow_pause(workflow=paused_then_stopped)
    services.workflow_stop(workflow=paused_then_stopped)
    make_workflow(owner=make_user(), kind="WEBHOOK")  # someone else's

    figures = user_analytics(user=user, window=RANGES["24h"], now=NOW)

    assert figures["total_workflows"] == 6
    assert figures["workflows_by_kind"] == {"HEARTBEAT": 3, "CONTAINER": 1, "WEBHOOK": 1, "WEBSOCKET": 1}
    assert (figures["active_workflows"], figures["paused_workflows"], figures["terminated_workflows"]) == (3, 1, 2)


def test_only_running_jobs_count_as_jobs_but_not_in_rates_or_durations(user, make_workflow, make_job):
    workflow = make_workflow()
    for status in (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RUNNING):
        make_job(workflow, status)

    figures = user_analytics(user=user, window=RANGES["24h"], now=NOW)

    assert figures["total_jobs"] == 4
    assert figures["jobs_by_status"] == {**ZERO_STATUSES, "PENDING": 1, "QUEUED": 1, "RUNNING": 2}
    assert figures["success_rate"] is None
    assert figures["total_job_execution_duration"] == 0.0
    assert figures["avg_job_duration_seconds"] == 0.0
    assert figures["p95_job_duration_seconds"] == 0.0
    assert all(point["completed"] == point["failed"] == 0 for point in figures["timeseries"])


def test_finished_jobs_give_the_success_rate_and_durations(user, make_workflow, make_job):
    workflow = make_workflow()
    durations = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 89.0, 144.0, 233.0, 377.0]
    for n, duration in enumerate(durations):
        status = JobStatus.FAILED if n % 4 == 0 else JobStatus.COMPLETED
        make_job(workflow, status, completed_at=NOW - timedelta(minutes=n), duration=duration)
    # A canceled run: a job, but neither a success nor a failure, and its time is not execution time.
    make_job(workflow, JobStatus.CANCELED, completed_at=NOW, duration=999.0)
    make_job(workflow, JobStatus.RUNNING)

    figures = user_analytics(user=user, window=RANGES["24h"], now=NOW)

    assert figures["jobs_by_status"] == {**ZERO_STATUSES, "COMPLETED": 12, "FAILED": 4, "CANCELED": 1, "RUNNING": 1}
    assert figures["total_jobs"] == 18
    assert figures["success_rate"] == 12 / 16
    assert figures["total_job_execution_duration"] == pytest.approx(sum(durations))
    assert figures["avg_job_duration_seconds"] == pytest.approx(sum(durations) / 16)
    assert figures["p95_job_duration_seconds"] == pytest.approx(nearest_rank(durations, 0.95), rel=0.025)
    assert figures["timeseries"][-1] == {"bucket": "2026-03-03T10:00:00.000Z", "completed": 12, "failed": 4}


def test_a_failed_job_that_never_started_counts_as_a_failure_without_a_duration(user, make_workflow, make_job):
    workflow = make_workflow()
    make_job(workflow, JobStatus.FAILED, completed_at=NOW, duration=None)
    make_job(workflow, JobStatus.COMPLETED, completed_at=NOW, duration=2.0)

    figures = user_analytics(user=user, window=RANGES["24h"], now=NOW)

    assert figures["success_rate"] == 0.5
    assert figures["avg_job_duration_seconds"] == 2.0
    assert figures["total_job_execution_duration"] == 2.0


def test_only_cancelled_jobs_leave_the_success_rate_null(user, make_workflow, make_job):
    workflow = make_workflow()
    make_job(workflow, JobStatus.CANCELED, completed_at=NOW, duration=3.0)
    make_job(workflow, JobStatus.CANCELED, completed_at=NOW, duration=None)

    figures = user_analytics(user=user, window=RANGES["24h"], now=NOW)

    assert figures["jobs_by_status"] == {**ZERO_STATUSES, "CANCELED": 2}
    assert figures["total_jobs"] == 2
    assert figures["success_rate"] is None
    assert figures["total_job_execution_duration"] == 0.0
    assert figures["timeseries"][-1]["completed"] == figures["timeseries"][-1]["failed"] == 0


def test_log_lines_are_counted_per_user_and_workflow(user, make_workflow, make_job):
    first, second = make_workflow(), make_workflow()
    make_job(first, JobStatus.COMPLETED, completed_at=NOW, duration=1.0, logs=7)
    make_job(second, JobStatus.RUNNING, logs=5)

    assert user_analytics(user=user, window=RANGES["24h"], now=NOW)["total_logs"] == 12
    assert workflow_analytics(workflow=first, window=RANGES["24h"], now=NOW)["total_logs"] == 7
    assert workflow_analytics(workflow=second, window=RANGES["24h"], now=NOW)["total_logs"] == 5


def test_a_workflows_figures_are_its_own(user, make_workflow, make_job):
    mine, other = make_workflow(), make_workflow()
    make_job(mine, JobStatus.COMPLETED, completed_at=NOW, duration=1.0)
    make_job(mine, JobStatus.FAILED, completed_at=NOW - timedelta(days=2), duration=3.0)
    make_job(mine, JobStatus.QUEUED)
    make_job(other, JobStatus.FAILED, completed_at=NOW, duration=50.0)
    mine.consecutive_job_failures_count = 1
    mine.save(update_fields=["consecutive_job_failures_count"])

    figures = workflow_analytics(workflow=mine, window=RANGES["7d"], now=NOW)

    assert figures["workflow_id"] == str(mine.pk)
    assert figures["jobs_by_status"] == {**ZERO_STATUSES, "COMPLETED": 1, "FAILED": 1, "QUEUED": 1}
    assert figures["total_jobs"] == 3
    assert figures["success_rate"] == 0.5
    assert figures["total_job_execution_duration"] == 4.0
    assert figures["avg_job_duration_seconds"] == 2.0
    assert figures["consecutive_job_failures_count"] == 1
    assert [
        (p["bucket"], p["completed"], p["failed"]) for p in figures["timeseries"] if p["completed"] or p["failed"]
    ] == [
        ("2026-03-01T00:00:00.000Z", 0, 1),
        ("2026-03-03T00:00:00.000Z", 1, 0),
    ]


def test_deleting_a_workflow_keeps_the_users_totals(user, make_workflow, make_job):
    kept, deleted = make_workflow(), make_workflow()
    make_job(kept, JobStatus.COMPLETED, completed_at=NOW, duration=1.0, logs=2)
    make_job(deleted, JobStatus.COMPLETED, completed_at=NOW - timedelta(hours=1), duration=2.0, logs=3)
    make_job(deleted, JobStatus.FAILED, completed_at=NOW, duration=4.0)
    make_job(deleted, JobStatus.QUEUED)  # canceled by the deletion: a job the user had
    before = user_analytics(user=user, window=RANGES["24h"], now=NOW)

    services.workflow_remove(workflow=deleted)

    after = user_analytics(user=user, window=RANGES["24h"], now=NOW)
    assert after["total_workflows"] == before["total_workflows"] - 1 == 1
    assert before["jobs_by_status"] == {**ZERO_STATUSES, "COMPLETED": 2, "FAILED": 1, "QUEUED": 1}
    assert after["jobs_by_status"] == {**ZERO_STATUSES, "COMPLETED": 2, "FAILED": 1, "CANCELED": 1}
    for figure in ("total_jobs", "success_rate", "total_job_execution_duration", "avg_job_duration_seconds"):
        assert after[figure] == before[figure], figure
    assert after["p95_job_duration_seconds"] == before["p95_job_duration_seconds"]
    assert after["total_logs"] == 5
    assert after["timeseries"] == before["timeseries"]
    # The deleted workflow's own rows are gone; its user's hold its history.
    assert not JobRollup.objects.filter(workflow_id=deleted.pk).exists()
    assert not JobDurationCount.objects.filter(workflow_id=deleted.pk).exists()


def test_hourly_buckets_split_at_the_utc_hour_and_cover_the_last_24(user, make_workflow, make_job):
    workflow = make_workflow()
    hour = datetime(2026, 3, 3, 9, tzinfo=UTC)
    make_job(workflow, JobStatus.COMPLETED, completed_at=hour - timedelta(microseconds=1), duration=1.0)
    make_job(workflow, JobStatus.COMPLETED, completed_at=hour, duration=1.0)
    make_job(workflow, JobStatus.FAILED, completed_at=hour + timedelta(minutes=59, seconds=59), duration=1.0)
    make_job(workflow, JobStatus.FAILED, completed_at=NOW, duration=1.0)
    # The first bucket starts at 11:00 the day before: just before it is out of the series.
    first = datetime(2026, 3, 2, 11, tzinfo=UTC)
    make_job(workflow, JobStatus.COMPLETED, completed_at=first, duration=1.0)
    make_job(workflow, JobStatus.COMPLETED, completed_at=first - timedelta(microseconds=1), duration=1.0)

    series = user_analytics(user=user, window=RANGES["24h"], now=NOW)["timeseries"]

    assert len(series) == 24
    assert series[0] == {"bucket": "2026-03-02T11:00:00.000Z", "completed": 1, "failed": 0}
    assert series[-3] == {"bucket": "2026-03-03T08:00:00.000Z", "completed": 1, "failed": 0}
    assert series[-2] == {"bucket": "2026-03-03T09:00:00.000Z", "completed": 1, "failed": 1}
    assert series[-1] == {"bucket": "2026-03-03T10:00:00.000Z", "completed": 0, "failed": 1}
    assert sum(p["completed"] for p in series) == 3


def test_a_time_zone_other_than_utc_does_not_move_the_buckets(user, make_workflow, make_job):
    workflow = make_workflow()
    # 23:30 in New York on March 2nd is 04:30 UTC on March 3rd.
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'America/New_York'")
    try:
        make_job(workflow, JobStatus.COMPLETED, completed_at=datetime(2026, 3, 3, 4, 30, tzinfo=UTC), duration=1.0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")

    series = user_analytics(user=user, window=RANGES["7d"], now=NOW)["timeseries"]

    assert series[-1] == {"bucket": "2026-03-03T00:00:00.000Z", "completed": 1, "failed": 0}
    assert JobRollup.objects.get(user=user, workflow_id=None, period__isnull=False).period == datetime(
        2026, 3, 3, 4, tzinfo=UTC
    )


@pytest.mark.parametrize(("name", "count"), [("7d", 7), ("30d", 30)])
def test_daily_buckets_split_at_utc_midnight(user, make_workflow, make_job, name, count):
    workflow = make_workflow()
    midnight = datetime(2026, 3, 3, tzinfo=UTC)
    make_job(workflow, JobStatus.COMPLETED, completed_at=midnight, duration=1.0)
    make_job(workflow, JobStatus.FAILED, completed_at=midnight - timedelta(microseconds=1), duration=1.0)
    first = midnight - timedelta(days=count - 1)
    make_job(workflow, JobStatus.FAILED, completed_at=first, duration=1.0)
    make_job(workflow, JobStatus.FAILED, completed_at=first - timedelta(microseconds=1), duration=1.0)

    series = user_analytics(user=user, window=RANGES[name], now=NOW)["timeseries"]

    assert len(series) == count
    assert series[0]["bucket"] == first.strftime("%Y-%m-%dT00:00:00.000Z")
    assert series[0]["failed"] == 1
    assert series[-2] == {"bucket": "2026-03-02T00:00:00.000Z", "completed": 0, "failed": 1}
    assert series[-1] == {"bucket": "2026-03-03T00:00:00.000Z", "completed": 1, "failed": 0}
    assert sum(p["failed"] for p in series) == 2


def test_a_range_outside_the_three_is_refused_naming_range():
    assert analytics_range(None).name == "24h"
    assert analytics_range("30d").unit == "day"
    for value in ("", "1h", "24H", "7"):
        with pytest.raises(ServiceError) as caught:
            analytics_range(value)
        assert caught.value.status == 400
        assert list(caught.value.fields or {}) == ["range"]


# -- the duration histogram ------------------------------------------------------------------------


def test_the_sql_and_python_buckets_agree(db):
    durations = [0.0, 0.0009, 0.001, 0.00105, 0.0011, 0.5, 1.0, 59.999, 3600.0, 86400.0, 1e7]
    with connection.cursor() as cursor:
        from jobs.rollups import _BUCKET_SQL

        cursor.execute(f"SELECT {_BUCKET_SQL} FROM unnest(%s::float8[]) AS t(duration)", [durations])
        in_sql = [row[0] for row in cursor.fetchall()]
    assert in_sql == [duration_bucket(d) for d in durations]


@pytest.mark.parametrize("seconds", [0.001, 0.0123, 0.9, 1.0, 7.3, 61.0, 3599.0, 86000.0])
def test_a_bucket_stands_for_its_durations_within_2_5_percent(seconds):
    assert bucket_value(duration_bucket(seconds)) == pytest.approx(seconds, rel=0.025)


def test_the_percentile_is_the_nearest_rank():
    assert percentile_from_histogram([], 0.95) is None
    assert percentile_from_histogram([(0, 100)], 0.95) == 0.0
    # 95 jobs in one bucket, 5 in a higher one: the 95th of 100 is still in the first.
    low, high = duration_bucket(1.0), duration_bucket(100.0)
    assert percentile_from_histogram([(low, 95), (high, 5)], 0.95) == bucket_value(low)
    assert percentile_from_histogram([(low, 94), (high, 6)], 0.95) == bucket_value(high)
