from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditLog
from jobs.logs import LogLine, LogWriter, copy_lines
from jobs.models import Job, JobLog, JobStatus
from workflows import services as workflow_services
from workflows.models import BuildStatus

pytestmark = pytest.mark.django_db


def heartbeat(user, **fields):
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5, **fields}
    )
    return workflow


def job_with_logs(user, count: int = 0) -> Job:
    workflow = heartbeat(user)
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.COMPLETED)
    now = datetime.now(UTC)
    copy_lines(
        job.pk, [LogLine(i, "stderr" if i % 3 == 0 else "stdout", f"line {i}", now) for i in range(1, count + 1)]
    )
    return job


def test_manual_run_creates_a_manual_job(auth_api, user):
    workflow = heartbeat(user)

    response = auth_api.post(f"/api/v1/workflows/{workflow.id}/jobs")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "workflow_id",
        "status",
        "trigger",
        "scheduled_at",
        "started_at",
        "completed_at",
        "duration_seconds",
        "exit_code",
        "error",
        "attempt",
        "upstream_job_id",
        "created_at",
        "updated_at",
    }
    assert body["trigger"] == "MANUAL"
    assert body["upstream_job_id"] is None
    assert body["workflow_id"] == str(workflow.id)
    assert AuditLog.objects.filter(user=user, action="job.manual_run").exists()


def test_manual_run_is_409_when_terminated_or_not_built(auth_api, user):
    terminated = heartbeat(user)
    workflow_services.workflow_terminate(workflow=terminated)
    unbuilt = heartbeat(user)
    unbuilt.__class__.objects.filter(pk=unbuilt.pk).update(build_status=BuildStatus.FAILED)

    assert auth_api.post(f"/api/v1/workflows/{terminated.id}/jobs").status_code == 409
    assert auth_api.post(f"/api/v1/workflows/{unbuilt.id}/jobs").status_code == 409


def test_list_jobs_of_a_workflow_with_filters(auth_api, user):
    workflow = heartbeat(user)
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.COMPLETED):
        Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=status)
    auth_api.post(f"/api/v1/workflows/{workflow.id}/jobs")

    def count(**params) -> int:
        response = auth_api.get(f"/api/v1/workflows/{workflow.id}/jobs", params)
        assert response.status_code == 200
        return len(response.json()["jobs"])

    assert count() == 4
    assert count(status="COMPLETED") == 2
    assert count(trigger="MANUAL") == 1
    assert auth_api.get(f"/api/v1/workflows/{workflow.id}/jobs", {"status": "DONE"}).status_code == 400


def test_cancel_a_queued_job_and_a_finished_one(auth_api, user):
    job = Job.objects.create(workflow=heartbeat(user), user=user, scheduled_at=timezone.now(), status=JobStatus.QUEUED)

    first = auth_api.post(f"/api/v1/jobs/{job.id}/cancel")
    again = auth_api.post(f"/api/v1/jobs/{job.id}/cancel")

    assert first.status_code == 200
    assert first.json()["status"] == "CANCELED"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_terminating_a_workflow_cancels_its_unfinished_jobs(auth_api, user):
    workflow = heartbeat(user)
    queued = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.QUEUED)
    done = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.COMPLETED)

    auth_api.post(f"/api/v1/workflows/{workflow.id}/terminate")

    queued.refresh_from_db()
    done.refresh_from_db()
    assert queued.status == JobStatus.CANCELED
    assert queued.canceled_by == str(user.id)
    assert done.status == JobStatus.COMPLETED


def test_another_users_jobs_are_404_everywhere(api, make_user, make_token, user):
    job = job_with_logs(user, 3)
    _, secret = make_token(make_user())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    paths = [
        ("get", f"/api/v1/jobs/{job.id}"),
        ("post", f"/api/v1/jobs/{job.id}/cancel"),
        ("get", f"/api/v1/jobs/{job.id}/logs"),
        ("get", f"/api/v1/jobs/{job.id}/logs/raw"),
        ("get", f"/api/v1/jobs/{job.id}/events"),
        ("get", f"/api/v1/workflows/{job.workflow_id}/jobs"),
        ("post", f"/api/v1/workflows/{job.workflow_id}/jobs"),
    ]

    assert [getattr(api, method)(path).status_code for method, path in paths] == [404] * len(paths)


def test_logs_are_paged_in_output_order_with_filters(auth_api, user):
    job = job_with_logs(user, 2500)

    first = auth_api.get(f"/api/v1/jobs/{job.id}/logs").json()
    second = auth_api.get(f"/api/v1/jobs/{job.id}/logs", {"cursor": first["cursor"]}).json()
    third = auth_api.get(f"/api/v1/jobs/{job.id}/logs", {"cursor": second["cursor"]}).json()
    stderr = auth_api.get(f"/api/v1/jobs/{job.id}/logs", {"stream": "stderr", "limit": 5}).json()["logs"]
    found = auth_api.get(f"/api/v1/jobs/{job.id}/logs", {"q": "LINE 249"}).json()["logs"]

    sequences = [log["sequence"] for page in (first, second, third) for log in page["logs"]]
    assert sequences == list(range(1, 2501))
    assert third["cursor"] is None
    assert set(first["logs"][0]) == {"sequence", "stream", "message", "timestamp"}
    assert [log["sequence"] for log in stderr] == [3, 6, 9, 12, 15]
    assert [log["message"] for log in found] == ["line 249", *[f"line 249{i}" for i in range(10)]]


@pytest.mark.parametrize("params", [{"stream": "both"}, {"limit": 1001}, {"cursor": "zz"}])
def test_logs_reject_bad_parameters(auth_api, user, params):
    job = job_with_logs(user, 1)

    assert auth_api.get(f"/api/v1/jobs/{job.id}/logs", params).status_code == 400


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_raw_logs_download_as_text_and_jsonl(auth_api, user, monkeypatch):
    from jobs import api

    monkeypatch.setattr(api, "RAW_CHUNK", 2)  # several chunks, so the keyset walk is exercised
    job = job_with_logs(user, 3)

    text = auth_api.get(f"/api/v1/jobs/{job.id}/logs/raw")
    jsonl = auth_api.get(f"/api/v1/jobs/{job.id}/logs/raw", {"format": "jsonl"})

    assert text["Content-Disposition"] == f'attachment; filename="job-{job.id}.txt"'
    # An async iterator: under ASGI the server streams it instead of buffering the whole log.
    assert text.is_async
    assert b"".join(text).decode() == "line 1\nline 2\nline 3\n"
    rows = b"".join(jsonl).decode().splitlines()
    assert [__import__("json").loads(r)["stream"] for r in rows] == ["stdout", "stdout", "stderr"]
    assert auth_api.get(f"/api/v1/jobs/{job.id}/logs/raw", {"format": "pdf"}).status_code == 400


def test_the_log_writer_truncates_long_lines_and_caps_a_job(user, settings):
    settings.LOG_MAX_LINE_BYTES = 300
    settings.LOG_MAX_LINES_PER_JOB = 10
    job = job_with_logs(user, 0)

    with LogWriter(job.pk) as log:
        log.feed("stdout", "x" * 1000 + "\n")
        for i in range(20):
            log.feed("stderr", f"chatty {i}\n".encode())

    stored = list(JobLog.objects.filter(job=job).order_by("sequence"))
    assert len(stored) == 11
    assert stored[0].message.startswith("x" * 300)
    assert stored[0].message.endswith("…[line truncated: 700 more bytes]")
    assert stored[-1].message == "…[log truncated: 11 more lines were dropped]"
    assert [line.sequence for line in stored] == list(range(1, 12))


def test_lines_are_stored_exactly_whatever_they_contain(user, settings):
    settings.LOG_MAX_LINE_BYTES = 300
    job = job_with_logs(user, 0)
    lines = ["tab\there", "back\\slash \\N \\t", "carriage\rinside", "ünïcødé ✓ 🚀", "", "é" * 100]

    with LogWriter(job.pk) as log:
        log.feed("stdout", "".join(f"{line}\n" for line in lines).encode())
        log.write("stderr", "a line of its own\twith a tab")

    stored = list(JobLog.objects.filter(job=job).order_by("sequence").values_list("stream", "message"))
    assert stored == [("stdout", line) for line in lines] + [("stderr", "a line of its own\twith a tab")]


def test_prune_logs_deletes_only_old_jobs_logs(user, settings):
    settings.LOG_RETENTION_DAYS = 7
    old, recent = job_with_logs(user, 4), job_with_logs(user, 2)
    Job.objects.filter(pk=old.pk).update(completed_at=timezone.now() - timezone.timedelta(days=8))
    Job.objects.filter(pk=recent.pk).update(completed_at=timezone.now())

    call_command("prune_logs")

    assert not JobLog.objects.filter(job=old).exists()
    assert JobLog.objects.filter(job=recent).count() == 2


def test_cancel_job_command(user):
    job = Job.objects.create(workflow=heartbeat(user), user=user, scheduled_at=timezone.now(), status=JobStatus.PENDING)

    call_command("cancel_job", str(job.pk))

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.canceled_by == "operator"
    with pytest.raises(Exception, match="already CANCELED"):
        call_command("cancel_job", str(job.pk))


def test_the_admin_lists_jobs_and_cancels(admin_client, user):
    job = job_with_logs(user, 3)
    queued = Job.objects.create(workflow=job.workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.QUEUED)

    assert admin_client.get("/admin/jobs/job/?status__exact=COMPLETED").status_code == 200
    page = admin_client.get(f"/admin/jobs/job/{job.pk}/change/")
    assert page.status_code == 200
    assert "line 3" in page.content.decode()
    admin_client.post("/admin/jobs/job/", {"action": "cancel", "_selected_action": [str(queued.pk)]})
    queued.refresh_from_db()
    assert queued.status == JobStatus.CANCELED


def test_the_admin_asks_the_worker_to_stop_a_running_container_job(admin_client, user):
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={
            "name": "c",
            "kind": "CONTAINER",
            "interval": 5,
            "payload": {"image": "chronoverse/busybox:latest", "command": ["sleep", "60"]},
        },
    )
    now = timezone.now()
    running = Job.objects.create(
        workflow=workflow, user=user, scheduled_at=now, status=JobStatus.RUNNING, started_at=now, worker="w:1"
    )

    response = admin_client.post(
        "/admin/jobs/job/", {"action": "cancel", "_selected_action": [str(running.pk)]}, follow=True
    )

    running.refresh_from_db()
    # Still RUNNING until its worker has stopped the container; then it becomes CANCELED.
    assert running.status == JobStatus.RUNNING
    assert running.cancel_requested_at is not None
    assert running.canceled_by.startswith("admin:")
    assert "1 running container job(s) are being stopped" in response.content.decode()
    assert AuditLog.objects.filter(action="job.canceled", target_id=str(running.pk)).exists()
