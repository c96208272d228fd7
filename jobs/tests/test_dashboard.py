from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditLog
from jobs.models import Job, JobStatus, JobTrigger
from workflows import services as workflow_services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def heartbeat(user, name: str = "hb") -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": name, "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    return workflow


def make_job(workflow: Workflow, status: str = JobStatus.QUEUED, **fields) -> Job:
    return Job.objects.create(
        workflow=workflow, user=workflow.user, scheduled_at=timezone.now(), status=status, **fields
    )


def job_links(response) -> list[str]:
    return re.findall(r'href="/jobs/([0-9a-f-]{36})/"', response.content.decode())


def test_the_pages_need_a_login(client, user):
    job = make_job(heartbeat(user))

    for response in [
        client.get(f"/jobs/{job.id}/"),
        client.post(f"/jobs/{job.id}/cancel/"),
        client.post(f"/workflows/{job.workflow_id}/run/"),
    ]:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert Job.objects.count() == 1


def test_run_now_creates_a_manual_job_and_opens_its_page(client, user):
    workflow = heartbeat(user)
    client.force_login(user)

    response = client.post(f"/workflows/{workflow.id}/run/")

    job = Job.objects.get(workflow=workflow)
    assert job.trigger == JobTrigger.MANUAL
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.id}/"
    assert AuditLog.objects.filter(user=user, action="job.manual_run", target_id=str(job.id)).exists()
    assert "Job started." in client.get(response["Location"]).content.decode()


def test_run_now_on_a_terminated_workflow_shows_the_conflict(client, user):
    workflow = heartbeat(user)
    workflow_services.workflow_terminate(workflow=workflow)
    client.force_login(user)

    response = client.post(f"/workflows/{workflow.id}/run/", follow=True)

    assert response.redirect_chain[-1][0] == f"/workflows/{workflow.id}/"
    assert "The workflow is terminated." in response.content.decode()
    assert not Job.objects.exists()
    assert client.get(f"/workflows/{workflow.id}/run/").status_code == 405


def test_the_run_button_is_offered_until_the_workflow_is_terminated(client, user):
    workflow = heartbeat(user)
    client.force_login(user)

    before = client.get(f"/workflows/{workflow.id}/").content.decode()
    workflow_services.workflow_terminate(workflow=workflow)
    after = client.get(f"/workflows/{workflow.id}/").content.decode()

    assert f'action="/workflows/{workflow.id}/run/"' in before
    assert f'action="/workflows/{workflow.id}/run/"' not in after


def test_the_workflow_page_lists_its_twenty_newest_jobs(client, user):
    workflow = heartbeat(user)
    jobs = [make_job(workflow, JobStatus.COMPLETED) for _ in range(22)]
    failed = make_job(workflow, JobStatus.FAILED, exit_code=3, duration_seconds=1.5, error="boom " * 40)
    make_job(heartbeat(user, "other"))
    client.force_login(user)

    response = client.get(f"/workflows/{workflow.id}/")

    page = response.content.decode()
    newest_first = [str(job.id) for job in [failed, *reversed(jobs)]][:20]
    assert job_links(response) == newest_first
    assert 'class="badge job-failed">FAILED</span>' in page
    assert "1.50 s" in page
    assert ">3</td>" in page
    # The table shows an excerpt; the whole error is one hover (or one click) away.
    excerpt = re.search(r'<td class="error-excerpt has-error" title="(boom [^"]+)">([^<]+)</td>', page)
    assert excerpt.group(1) == "boom " * 40
    assert len(excerpt.group(2)) == 80
    assert excerpt.group(2).endswith("…")


def test_the_workflow_page_query_count_does_not_grow_with_its_jobs(client, user):
    workflow = heartbeat(user)
    for _ in range(2):
        make_job(workflow, JobStatus.COMPLETED)
    client.force_login(user)
    client.get(f"/workflows/{workflow.id}/")  # the first request of a session may load extra state

    with CaptureQueriesContext(connection) as few:
        assert len(job_links(client.get(f"/workflows/{workflow.id}/"))) == 2
    for _ in range(18):
        make_job(workflow, JobStatus.FAILED, error="x")
    with CaptureQueriesContext(connection) as many:
        assert len(job_links(client.get(f"/workflows/{workflow.id}/"))) == 20

    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_job_page_shows_its_fields_and_the_live_log_socket(client, user):
    workflow = heartbeat(user, "nightly")
    job = make_job(
        workflow,
        JobStatus.FAILED,
        started_at=timezone.now(),
        completed_at=timezone.now(),
        duration_seconds=2.25,
        exit_code=7,
        error="exit status 7 <script>",
        attempt=2,
    )
    client.force_login(user)

    response = client.get(f"/jobs/{job.id}/")

    page = response.content.decode()
    assert response.status_code == 200
    assert str(job.id) in page
    assert f'href="/workflows/{workflow.id}/">nightly</a>' in page
    assert 'id="job-status" class="badge job-failed">FAILED</span>' in page
    assert "AUTOMATIC" in page
    assert "2.25 s" in page
    assert 'data-job-field="exit_code">7</dd>' in page
    assert 'data-job-field="attempt">2</dd>' in page
    assert "exit status 7 &lt;script&gt;" in page
    # The log comes through the page's one socket (live.js), after the last lines read from here.
    assert f'data-log-url="/jobs/{job.id}/log/"' in page
    assert "chronoverse/job-log.js" in page
    assert "chronoverse/live.js" in page
    assert f'href="/jobs/{job.id}/log.txt"' in page
    assert f"/api/v1/jobs/{job.id}/logs/raw?format=txt" in page
    assert f"/api/v1/jobs/{job.id}/logs/raw?format=jsonl" in page
    # A finished job cannot be canceled, so the page does not offer it.
    assert f'action="/jobs/{job.id}/cancel/"' not in page


def test_the_log_script_is_served(client):
    response = client.get("/static/chronoverse/job-log.js")

    assert response.status_code == 200
    assert b"textContent" in b"".join(response.streaming_content)


def test_canceling_a_queued_job(client, user):
    job = make_job(heartbeat(user))
    client.force_login(user)

    page = client.get(f"/jobs/{job.id}/").content.decode()
    response = client.post(f"/jobs/{job.id}/cancel/", follow=True)

    assert f'action="/jobs/{job.id}/cancel/"' in page
    assert response.redirect_chain[-1][0] == f"/jobs/{job.id}/"
    body = response.content.decode()
    assert "Job canceled." in body
    assert 'class="badge job-canceled">CANCELED</span>' in body
    assert "<dt>Canceled by</dt><dd>you</dd>" in body
    job.refresh_from_db()
    assert (job.status, job.canceled_by) == (JobStatus.CANCELED, str(user.id))
    assert AuditLog.objects.filter(user=user, action="job.canceled", target_id=str(job.id)).exists()


def test_canceling_a_finished_job_is_refused_with_a_message(client, user):
    job = make_job(heartbeat(user), JobStatus.COMPLETED)
    client.force_login(user)

    response = client.post(f"/jobs/{job.id}/cancel/", follow=True)

    assert response.redirect_chain[-1][0] == f"/jobs/{job.id}/"
    assert "The job is already COMPLETED." in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert client.get(f"/jobs/{job.id}/cancel/").status_code == 405


def test_another_users_job_is_not_found(client, user, make_user):
    job = make_job(heartbeat(make_user()))
    client.force_login(user)

    assert client.get(f"/jobs/{job.id}/").status_code == 404
    assert client.post(f"/jobs/{job.id}/cancel/").status_code == 404
    assert client.post(f"/workflows/{job.workflow_id}/run/").status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert Job.objects.count() == 1
