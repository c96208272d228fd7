"""The dashboard's analytics page and the panel on a workflow's page."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from analytics.charts import duration_chart, timeseries_chart
from analytics.templatetags.analytics_tags import seconds
from jobs.models import JobStatus
from jobs.rollups import duration_bucket

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def test_the_page_needs_a_login(client):
    response = client.get("/analytics/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_with_nothing_yet_it_says_what_to_do(logged_in):
    body = logged_in.get("/analytics/").content.decode()

    assert "Nothing to chart yet" in body
    assert 'href="/workflows/new/"' in body or "Create a workflow" in body
    assert '<svg class="chart' not in body


def test_workflows_without_jobs_say_how_to_get_some(logged_in, make_workflow):
    make_workflow()

    body = logged_in.get("/analytics/").content.decode()

    assert "None of your workflows has run a job yet" in body
    assert "Run now" in body


def test_a_history_is_drawn_as_charts(logged_in, make_workflow, make_job):
    workflow = make_workflow()
    now = timezone.now()
    for _ in range(3):
        make_job(workflow, JobStatus.COMPLETED, completed_at=now, duration=0.5)
    make_job(workflow, JobStatus.FAILED, completed_at=now, duration=30.0)

    response = logged_in.get("/analytics/?range=7d")

    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('<svg class="chart') == 2
    assert re.search(r'<rect class="completed"[^>]*><title>[^<]*: 3 completed</title>', body)
    assert re.search(r'<rect class="failed"[^>]*><title>[^<]*: 1 failed</title>', body)
    assert 'stroke-dasharray="75.00 25.00"' in body
    assert "75.0%" in body
    # Colours and sizes come from the stylesheet: the Content-Security-Policy allows no inline style.
    assert not re.search(r"\sstyle=", body)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)


def test_a_range_outside_the_three_is_a_400_page_with_the_default_range(logged_in):
    response = logged_in.get("/analytics/?range=1y")

    assert response.status_code == 400
    body = response.content.decode()
    assert "range" in body
    assert 'class="active">24h</a>' in body


def test_a_workflows_page_has_its_analytics_panel(logged_in, make_workflow, make_job):
    workflow, quiet = make_workflow(), make_workflow()
    make_job(workflow, JobStatus.COMPLETED, completed_at=timezone.now(), duration=2.0)

    body = logged_in.get(f"/workflows/{workflow.pk}/").content.decode()
    assert "<h2>Analytics</h2>" in body
    assert re.search(r"<title>[^<]*: 1 completed</title>", body)
    assert "100.0%" in body

    quiet_body = logged_in.get(f"/workflows/{quiet.pk}/").content.decode()
    assert "No job of this workflow has run yet" in quiet_body


def test_charts_leave_out_what_has_no_data():
    assert timeseries_chart([{"bucket": "2026-03-03T10:00:00.000Z", "completed": 0, "failed": 0}], "hour") is None
    assert duration_chart([]) is None


def test_durations_are_binned_in_ranges_a_person_reads():
    chart = duration_chart([(duration_bucket(0.05), 2), (duration_bucket(5.0), 6), (duration_bucket(7200.0), 1)])

    assert chart is not None
    assert chart.peak == 6
    assert [rect.title for rect in chart.rects] == ["< 0.1 s: 2 jobs", "1-10 s: 6 jobs", "≥ 1 h: 1 jobs"]
    assert chart.rects[1].height == 100.0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0.0, "0 s"),
        (0.004, "< 0.01 s"),
        (0.05, "0.05 s"),
        (3.25, "3.2 s"),
        (42.0, "42 s"),
        (125.0, "2 min 5 s"),
        (3720.0, "1 h 2 min"),
        (7200.0, "2 h"),
    ],
)
def test_durations_read_as_a_person_writes_them(value, text):
    assert seconds(value) == text
