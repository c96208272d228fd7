"""The seeds' example requests, sent as written (`../shared/seeds/`), where the contract covers
them: the workflows service (004), the workflows document (001) and the notifications document
(000). Qhronos (003) describes its own API; what of it the contract absorbs has its own tests."""

from __future__ import annotations

import pytest

from conftest import wait_for
from jobs.models import Job, JobLog, JobStatus
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)

# 004, CreateWorkflow, exactly as the document sends it (the payload is a JSON string).
DAILY_HEALTH_CHECK = {
    "name": "Daily Health Check",
    "kind": "http",
    "payload": '{"url": "https://api.example.com/health"}',
    "interval": 60,
    "max_consecutive_job_failures_allowed": 3,
}


def finished(job_id) -> Job:
    return wait_for(
        lambda: (job := Job.objects.get(pk=job_id)).status in (JobStatus.COMPLETED, JobStatus.FAILED) and job
    )


def test_the_workflows_service_create_example_is_201_as_written_and_runs(celery_worker, auth_api):
    created = auth_api.post("/api/v1/workflows", DAILY_HEALTH_CHECK, format="json")

    assert created.status_code == 201, created.content
    workflow = created.json()
    assert workflow["kind"] == "HEARTBEAT"
    assert workflow["payload"] == {"endpoint": "https://api.example.com/health"}
    assert (workflow["interval"], workflow["max_consecutive_job_failures_allowed"]) == (60, 3)
    # It runs: the check is made (this machine has no route to api.example.com, so it fails
    # with the reason, as it would for a user whose endpoint is down).
    job = finished(auth_api.post(f"/api/v1/workflows/{workflow['id']}/jobs").json()["id"])
    assert job.status == JobStatus.FAILED
    assert "api.example.com" in job.error or "resolve" in job.error.lower(), job.error


def test_the_same_request_against_a_reachable_endpoint_completes(celery_worker, auth_api, http_server):
    body = {**DAILY_HEALTH_CHECK, "payload": f'{{"url": "{http_server.url}/health"}}'}
    workflow = auth_api.post("/api/v1/workflows", body, format="json").json()

    job = finished(auth_api.post(f"/api/v1/workflows/{workflow['id']}/jobs").json()["id"])

    assert job.status == JobStatus.COMPLETED, job.error
    assert [(r["method"], r["path"]) for r in http_server.requests] == [("GET", "/health")]


def test_the_workflows_service_update_get_list_terminate_and_delete_examples(auth_api):
    workflow = auth_api.post("/api/v1/workflows", DAILY_HEALTH_CHECK, format="json").json()
    url = f"/api/v1/workflows/{workflow['id']}"
    monitor = auth_api.post(
        "/api/v1/workflows",
        {
            "name": "API Monitor",
            "payload": '{"url": "https://api.example.com"}',
            "kind": "http",
            "interval": 30,
            "max_consecutive_job_failures_allowed": 3,
        },
        format="json",
    )

    updated = auth_api.patch(
        url,
        {
            "name": "Hourly Health Check",
            "payload": '{"url": "https://api.example.com/health", "timeout": 30}',
            "interval": 60,
            "max_consecutive_job_failures_allowed": 5,
        },
        format="json",
    )
    listed = auth_api.get("/api/v1/workflows?kind=http")

    assert monitor.status_code == 201, monitor.content
    assert updated.status_code == 200, updated.content
    assert updated.json()["name"] == "Hourly Health Check"
    assert updated.json()["payload"] == {"endpoint": "https://api.example.com/health", "timeout": 30}
    assert updated.json()["max_consecutive_job_failures_allowed"] == 5
    assert auth_api.get(url).json()["build_status"] == "COMPLETED"
    assert {w["name"] for w in listed.json()["workflows"]} == {"Hourly Health Check", "API Monitor"}
    assert auth_api.post(f"{url}/terminate").json()["terminated_at"] is not None
    assert auth_api.delete(url).status_code == 204
    assert not Workflow.objects.filter(pk=workflow["id"]).exists()


def test_the_workflows_documents_payload_examples_are_accepted_as_written(auth_api):
    heartbeat = auth_api.post(
        "/api/v1/workflows",
        {"name": "beat", "kind": "HEARTBEAT", "payload": {"kind": "HEARTBEAT"}, "interval": 5},
        format="json",
    )
    container = auth_api.post(
        "/api/v1/workflows",
        {
            "name": "health probe",
            "kind": "CONTAINER",
            "payload": {
                "kind": "CONTAINER",
                "image": "python:3.11-alpine",
                "command": ["python", "-c"],
                "args": [
                    "import requests; response = requests.get('https://api.example.com/health'); "
                    "print(f'Status: {response.status_code}')"
                ],
                "env": {"API_ENDPOINT": "https://api.example.com", "TIMEOUT": "30"},
                "working_dir": "/app",
            },
            "interval": 60,
        },
        format="json",
    )

    assert heartbeat.status_code == 201, heartbeat.content
    assert container.status_code == 201, container.content
    assert container.json()["payload"]["working_dir"] == "/app"


def test_a_script_workflows_stdout_and_stderr_arrive_in_its_log(celery_worker, auth_api, docker_client, settings):
    settings.SCRIPT_DEFAULT_IMAGE = "chronoverse/busybox:latest"
    workflow = auth_api.post(
        "/api/v1/workflows",
        {
            "name": "nightly script",
            "kind": "script",
            "payload": {"script": "echo to stdout; sleep 0.1; echo to stderr >&2; exit 0"},
            "interval": 60,
        },
        format="json",
    ).json()
    wait_for(lambda: Workflow.objects.get(pk=workflow["id"]).build_status == "COMPLETED")

    job = finished(auth_api.post(f"/api/v1/workflows/{workflow['id']}/jobs").json()["id"])

    assert job.status == JobStatus.COMPLETED, job.error
    logged = list(JobLog.objects.filter(job=job).order_by("sequence").values_list("stream", "message"))
    assert logged == [("stdout", "to stdout"), ("stderr", "to stderr")]
    raw = auth_api.get(f"/api/v1/jobs/{job.pk}/logs").json()["logs"]
    assert [(line["stream"], line["message"]) for line in raw] == logged


def test_the_notifications_documents_list_and_mark_read_examples(auth_api, user):
    listed = auth_api.get("/api/v1/notifications")
    marked = auth_api.patch(
        "/api/v1/notifications/read",
        {"ids": ["550e8400-e29b-41d4-a716-446655440000", "660e8400-e29b-41d4-a716-446655440001"]},
        format="json",
    )

    assert listed.status_code == 200
    assert set(listed.json()) == {"notifications", "cursor"}
    # Ids that are not the user's are not theirs to mark: nothing happens, and nothing is revealed.
    assert marked.status_code == 200, marked.content
