"""The two analytics endpoints of the contract: shape, ownership, the `range` parameter, auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import yaml
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import JobStatus

pytestmark = pytest.mark.django_db

JOB_FIGURES = {
    "total_jobs",
    "jobs_by_status",
    "success_rate",
    "total_job_execution_duration",
    "avg_job_duration_seconds",
    "p95_job_duration_seconds",
    "total_logs",
    "timeseries",
}


def test_a_users_analytics_default_to_the_last_24_hours(auth_api, make_workflow, make_job):
    workflow = make_workflow()
    now = timezone.now()
    make_job(workflow, JobStatus.COMPLETED, completed_at=now, duration=2.0, logs=3)
    make_job(workflow, JobStatus.FAILED, completed_at=now - timedelta(hours=3), duration=4.0)

    response = auth_api.get("/api/v1/analytics")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == JOB_FIGURES | {
        "total_workflows",
        "workflows_by_kind",
        "active_workflows",
        "paused_workflows",
        "terminated_workflows",
    }
    assert (body["total_workflows"], body["active_workflows"], body["total_jobs"]) == (1, 1, 2)
    assert body["success_rate"] == 0.5
    assert (body["total_job_execution_duration"], body["avg_job_duration_seconds"]) == (6.0, 3.0)
    assert body["total_logs"] == 3
    assert len(body["timeseries"]) == 24
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    assert body["timeseries"][-1] == {"bucket": hour.strftime("%Y-%m-%dT%H:00:00.000Z"), "completed": 1, "failed": 0}
    assert body["timeseries"][-4]["failed"] == 1


@pytest.mark.parametrize(("value", "buckets"), [("24h", 24), ("7d", 7), ("30d", 30)])
def test_each_range_has_its_buckets(auth_api, value, buckets):
    series = auth_api.get(f"/api/v1/analytics?range={value}").json()["timeseries"]

    assert len(series) == buckets
    starts = [datetime.fromisoformat(point["bucket"]) for point in series]
    step = timedelta(hours=1) if value == "24h" else timedelta(days=1)
    assert all(later - earlier == step for earlier, later in pairwise(starts))


@pytest.mark.parametrize("value", ["1h", "", "24H", "7d,30d", "x" * 300])
def test_any_other_range_is_a_400_naming_range(auth_api, make_workflow, value):
    workflow = make_workflow()
    for url in ("/api/v1/analytics", f"/api/v1/analytics/workflows/{workflow.pk}"):
        response = auth_api.get(url, {"range": value})

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_argument"
        assert list(error["fields"]) == ["range"]
        assert "range" in error["message"]


def test_a_workflows_analytics(auth_api, make_workflow, make_job):
    workflow = make_workflow()
    make_job(workflow, JobStatus.COMPLETED, completed_at=timezone.now(), duration=1.5)
    make_job(make_workflow(), JobStatus.FAILED, completed_at=timezone.now(), duration=1.0)

    response = auth_api.get(f"/api/v1/analytics/workflows/{workflow.pk}?range=7d")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == JOB_FIGURES | {"workflow_id", "consecutive_job_failures_count"}
    assert body["workflow_id"] == str(workflow.pk)
    assert body["jobs_by_status"] == {**dict.fromkeys(JobStatus.values, 0), "COMPLETED": 1}
    assert (body["success_rate"], body["consecutive_job_failures_count"]) == (1.0, 0)
    assert len(body["timeseries"]) == 7
    assert body["timeseries"][-1]["completed"] == 1


def test_another_users_workflow_is_not_found(auth_api, make_user, make_workflow):
    theirs = make_workflow(owner=make_user())

    for workflow_id in (theirs.pk, "3f1c6a4e-0000-4000-8000-000000000000"):
        response = auth_api.get(f"/api/v1/analytics/workflows/{workflow_id}")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_a_read_token_may_read_and_no_token_may_not(user, make_token, make_workflow):
    workflow = make_workflow()
    _, secret = make_token(user, scopes=("read",))
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert reader.get("/api/v1/analytics").status_code == 200
    assert reader.get(f"/api/v1/analytics/workflows/{workflow.pk}").status_code == 200
    assert APIClient().get("/api/v1/analytics").status_code == 401
    assert APIClient().get(f"/api/v1/analytics/workflows/{workflow.pk}").status_code == 401


def test_the_schema_documents_both_endpoints(api):
    schema = yaml.safe_load(api.get("/api/schema/").content)

    user_op = schema["paths"]["/api/v1/analytics"]["get"]
    assert {p["name"] for p in user_op["parameters"]} == {"range"}
    assert "404" in schema["paths"]["/api/v1/analytics/workflows/{workflow_id}"]["get"]["responses"]
    figures = schema["components"]["schemas"]["UserAnalytics"]["properties"]
    assert {"success_rate", "timeseries", "workflows_by_kind", "jobs_by_status"} <= set(figures)
