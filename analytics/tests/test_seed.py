"""`manage.py seed_demo` at a tiny scale, and the endpoints' query counts over what it seeds."""

from __future__ import annotations

from datetime import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from analytics import seed
from analytics.selectors import RANGES, user_analytics
from jobs.models import Job, JobLog, JobStatus
from jobs.tests.test_rollups import assert_rollups_match_jobs
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def run_seed(**counts) -> str:
    err = StringIO()
    call_command("seed_demo", **counts, stdout=StringIO(), stderr=err)
    return err.getvalue()


def test_it_seeds_the_counts_asked_for_with_consistent_rollups(monkeypatch):
    # Small chunks: workflows cut across chunks, and several transactions.
    monkeypatch.setattr(seed, "CHUNK_JOBS", 40)

    progress = run_seed(users=2, workflows=7, jobs=203, logs=1001)

    assert progress.strip().splitlines()[-1].startswith("[" + "#" * 30 + "] 100%")
    users = {workflow.user for workflow in Workflow.objects.all()}
    assert sorted(user.email for user in users) == ["seed-1@chronoverse.local", "seed-2@chronoverse.local"]
    assert Workflow.objects.count() == 7
    assert Job.objects.count() == 203
    assert JobLog.objects.count() == 1001
    assert not Job.objects.exclude(status__in=[JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED]).exists()
    # Every job's lines are numbered 1..n, as the log pipeline numbers them.
    per_job = JobLog.objects.values("job_id").annotate(n=Count("id"), top=Sum("sequence"))
    assert all(row["top"] == row["n"] * (row["n"] + 1) // 2 for row in per_job)
    for user in users:
        assert_rollups_match_jobs(user)
        figures = user_analytics(user=user, window=RANGES["30d"])
        assert figures["total_jobs"] == Job.objects.filter(user=user).count()
        since = datetime.fromisoformat(figures["timeseries"][0]["bucket"])
        assert (
            sum(p["completed"] + p["failed"] for p in figures["timeseries"])
            == Job.objects.filter(
                user=user, status__in=[JobStatus.COMPLETED, JobStatus.FAILED], completed_at__gte=since
            ).count()
        )


def test_seeded_workflows_leave_a_running_platform_little_to_do():
    run_seed(users=1, workflows=20, jobs=40, logs=0)

    active = Workflow.objects.filter(paused_at__isnull=True, terminated_at__isnull=True)
    assert set(active.values_list("kind", flat=True)) == {"HEARTBEAT"}
    assert Workflow.objects.filter(terminated_at__isnull=False).count() == 2
    assert set(Workflow.objects.values_list("kind", flat=True)) == {"HEARTBEAT", "CONTAINER", "WEBHOOK"}


def test_it_seeds_into_a_given_account_and_adds_to_what_is_there(user):
    run_seed(workflows=2, jobs=10, logs=5, email=user.email)
    run_seed(workflows=1, jobs=4, logs=0, email=user.email)

    assert Job.objects.filter(user=user).count() == 14
    assert_rollups_match_jobs(user)


@pytest.mark.parametrize(
    "counts",
    [{"users": 0}, {"jobs": 5, "workflows": 0}, {"logs": 5, "jobs": 0}, {"users": 2, "email": "a@example.com"}],
)
def test_impossible_counts_are_refused(counts):
    with pytest.raises(CommandError):
        run_seed(**counts)


def test_each_endpoint_answers_in_a_fixed_number_of_queries(user, auth_api, django_assert_max_num_queries):
    seed.seed_demo(users=1, workflows=12, jobs=3000, logs=9000, email=user.email)
    workflow = Workflow.objects.filter(user=user).first()
    assert workflow is not None

    # Authentication (the token with its user; its last use, at most once a while), then the figures:
    # the workflows (or the one workflow), all-time totals, jobs in progress, the duration histogram
    # and the time series; as many for any size of history.
    for value in RANGES:
        with django_assert_max_num_queries(7):
            assert auth_api.get(f"/api/v1/analytics?range={value}").status_code == 200
        with django_assert_max_num_queries(7):
            assert auth_api.get(f"/api/v1/analytics/workflows/{workflow.pk}?range={value}").status_code == 200
