"""The dashboard's live pages, through the Django test client: the runs list, the workflow page's
jobs (filters, paging, badges), the job page's re-run, paged log reads and timestamped download."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.logs import LogWriter
from jobs.models import Job, JobStatus, JobTrigger
from workflows import services as workflow_services
from workflows.models import BuildStatus, Workflow, WorkflowBuild

pytestmark = pytest.mark.django_db


def heartbeat(user, name: str = "hb") -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": name, "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    return workflow


def make_job(workflow: Workflow, status: str = JobStatus.COMPLETED, minutes_ago: int = 0, **fields) -> Job:
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return Job.objects.create(
        workflow=workflow, user=workflow.user, scheduled_at=when, created_at=when, status=status, **fields
    )


def job_links(response) -> list[str]:
    return re.findall(r'href="/jobs/([0-9a-f-]{36})/"', response.content.decode())


def next_query(response) -> str:
    return re.search(r'href="\?([^"]+)" rel="next"', response.content.decode()).group(1).replace("&amp;", "&")


# -- the runs list -------------------------------------------------------------------------------


def test_the_runs_list_shows_every_run_of_the_user_newest_first_and_is_live(client, user, make_user):
    nightly, hourly = heartbeat(user, "nightly"), heartbeat(user, "hourly")
    older = make_job(nightly, minutes_ago=5)
    newer = make_job(hourly, JobStatus.FAILED, minutes_ago=1, error="boom")
    make_job(heartbeat(make_user(), "theirs"))
    client.force_login(user)

    response = client.get("/jobs/")

    page = response.content.decode()
    assert response.status_code == 200
    assert job_links(response) == [str(newer.id), str(older.id)]
    assert ">nightly</a>" in page
    assert ">hourly</a>" in page
    assert "theirs" not in page
    assert 'id="run-rows" class="table-wrap" data-live-region data-live-on="job workflow_deleted"' in page
    assert 'href="/jobs/"' in client.get("/").content.decode()  # the home page links to all runs


def test_the_runs_list_filters_by_status_trigger_and_workflow(client, user):
    nightly, hourly = heartbeat(user, "nightly"), heartbeat(user, "hourly")
    failed = make_job(nightly, JobStatus.FAILED)
    manual = make_job(hourly, trigger=JobTrigger.MANUAL)
    automatic = make_job(nightly)
    client.force_login(user)

    assert job_links(client.get("/jobs/", {"status": "FAILED"})) == [str(failed.id)]
    assert job_links(client.get("/jobs/", {"trigger": "MANUAL"})) == [str(manual.id)]
    assert set(job_links(client.get("/jobs/", {"workflow": str(nightly.id)}))) == {str(failed.id), str(automatic.id)}
    assert job_links(client.get("/jobs/", {"workflow": str(nightly.id), "status": "COMPLETED"})) == [str(automatic.id)]
    bad = client.get("/jobs/", {"status": "SLEEPING"})
    assert bad.status_code == 400
    assert "No run matches these filters." in bad.content.decode()


def test_the_runs_list_pages_by_fifty_and_keeps_its_filters(client, user):
    workflow = heartbeat(user)
    jobs = [make_job(workflow, JobStatus.FAILED, minutes_ago=60 - index) for index in range(52)]
    make_job(workflow)
    client.force_login(user)

    first = client.get("/jobs/", {"status": "FAILED"})
    second = client.get(f"/jobs/?{next_query(first)}")

    assert "status=FAILED" in next_query(first)
    assert len(job_links(first)) == 50
    assert job_links(second) == [str(jobs[1].id), str(jobs[0].id)]
    assert 'rel="next"' not in second.content.decode()
    assert "First page" in second.content.decode()


# -- the workflow page's jobs --------------------------------------------------------------------


def test_the_workflow_page_filters_and_pages_its_jobs(client, user):
    workflow = heartbeat(user)
    failed = [make_job(workflow, JobStatus.FAILED, minutes_ago=30 - index) for index in range(22)]
    make_job(workflow, JobStatus.COMPLETED, trigger=JobTrigger.MANUAL)
    client.force_login(user)

    first = client.get(f"/workflows/{workflow.id}/", {"status": "FAILED"})
    second = client.get(f"/workflows/{workflow.id}/?{next_query(first)}")
    manual = client.get(f"/workflows/{workflow.id}/", {"trigger": "MANUAL", "status": "FAILED"})

    assert job_links(first) == [str(job.id) for job in reversed(failed)][:20]
    assert job_links(second) == [str(failed[1].id), str(failed[0].id)]
    assert job_links(manual) == []
    assert "No job matches these filters." in manual.content.decode()
    page = first.content.decode()
    assert '<option value="FAILED" selected>' in page
    assert (
        f'id="workflow-jobs" class="table-wrap" data-live-region data-live-on="job" data-live-workflow="{workflow.id}"'
        in page
    )


def test_a_terminated_workflow_wears_no_green_completed_badge(client, user):
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={"name": "boxed", "kind": "CONTAINER", "payload": {"image": "chronoverse/busybox:latest"}, "interval": 5},
    )
    Workflow.objects.filter(pk=workflow.pk).update(build_status=BuildStatus.COMPLETED)
    WorkflowBuild.objects.filter(workflow=workflow).update(status=BuildStatus.COMPLETED)
    client.force_login(user)
    active = client.get(f"/workflows/{workflow.id}/").content.decode()
    workflow_services.workflow_terminate(workflow=workflow)

    terminated = client.get(f"/workflows/{workflow.id}/").content.decode()
    listed = client.get("/workflows/").content.decode()

    assert 'class="badge state state-active" data-badge="state" title="Workflow status">Active</span>' in active
    assert 'class="badge build build-completed" data-badge="build"' in active
    for page in (terminated, listed):
        assert 'data-badge="state" title="Workflow status">Terminated</span>' in page
        grey = 'class="badge build build-inactive" data-badge="build" title="Image build status: COMPLETED"'
        assert f"{grey}>Build completed" in page
        assert "build-completed" not in page.split('id="workflow-build"')[0]


def test_the_workflow_list_shows_each_workflows_last_run(client, user):
    ran, idle = heartbeat(user, "ran"), heartbeat(user, "idle")
    make_job(ran, JobStatus.COMPLETED, minutes_ago=10)
    latest = make_job(ran, JobStatus.FAILED, minutes_ago=1)
    client.force_login(user)

    page = client.get("/workflows/").content.decode()

    rows = dict(re.findall(r'data-workflow-id="([0-9a-f-]{36})">(.*?)</tr>', page, re.S))
    assert f'<a href="/jobs/{latest.id}/" class="badge job-failed">FAILED</a>' in rows[str(ran.id)]
    assert "never" in rows[str(idle.id)]
    assert 'id="workflow-rows" class="table-wrap" data-live-region' in page


# -- the job page: re-run, log windows, download ---------------------------------------------------


def test_re_run_runs_the_workflow_again_and_opens_the_new_job(client, user):
    workflow = heartbeat(user)
    job = make_job(workflow, JobStatus.FAILED)
    client.force_login(user)

    assert f'action="/jobs/{job.id}/rerun/"' in client.get(f"/jobs/{job.id}/").content.decode()
    response = client.post(f"/jobs/{job.id}/rerun/")

    rerun = Job.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{rerun.id}/"
    assert (rerun.workflow_id, rerun.trigger) == (workflow.id, JobTrigger.MANUAL)
    assert client.get(f"/jobs/{job.id}/rerun/").status_code == 405


def test_re_run_of_a_terminated_workflow_is_refused_with_a_message(client, user, make_user):
    workflow = heartbeat(user)
    job = make_job(workflow)
    workflow_services.workflow_terminate(workflow=workflow)
    theirs = make_job(heartbeat(make_user()))
    client.force_login(user)

    response = client.post(f"/jobs/{job.id}/rerun/", follow=True)

    assert "The workflow is terminated." in response.content.decode()
    assert f'action="/jobs/{job.id}/rerun/"' not in response.content.decode()
    assert client.post(f"/jobs/{theirs.id}/rerun/").status_code == 404
    assert Job.objects.count() == 2


def job_with_log(user, lines: int) -> Job:
    job = make_job(heartbeat(user), JobStatus.RUNNING)
    with LogWriter(job.pk) as log:
        for index in range(1, lines + 1):
            log.write("stderr" if index % 3 == 0 else "stdout", f"line {index}")
    return job


def test_the_log_reads_in_windows_both_ways_with_filters(client, user, make_user):
    job = job_with_log(user, 12)
    client.force_login(user)
    url = f"/jobs/{job.id}/log/"

    tail = client.get(url, {"limit": 5}).json()
    earlier = client.get(url, {"limit": 5, "before": 8}).json()
    later = client.get(url, {"limit": 5, "after": 9}).json()
    stderr = client.get(url, {"stream": "stderr"}).json()
    found = client.get(url, {"q": "LINE 1"}).json()

    assert [line["sequence"] for line in tail["lines"]] == [8, 9, 10, 11, 12]
    assert tail["more_before"] is True
    assert tail["last_sequence"] == 12
    assert tail["job"]["status"] == "RUNNING"
    assert [line["sequence"] for line in earlier["lines"]] == [3, 4, 5, 6, 7]
    assert [line["sequence"] for line in later["lines"]] == [10, 11, 12]
    assert later["more_after"] is False
    assert [line["message"] for line in stderr["lines"]] == ["line 3", "line 6", "line 9", "line 12"]
    assert stderr["more_before"] is False
    assert [line["message"] for line in found["lines"]] == ["line 1", "line 10", "line 11", "line 12"]
    assert set(tail["lines"][0]) == {"sequence", "stream", "message", "timestamp"}
    assert client.get(url, {"after": "x"}).status_code == 400
    assert client.get(url, {"limit": 1001}).status_code == 400
    assert client.get(url, {"stream": "video"}).status_code == 400
    client.force_login(make_user())
    assert client.get(url).status_code == 404


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_the_dashboard_download_has_each_lines_time_and_stream(client, user, make_user, monkeypatch):
    from jobs import views

    monkeypatch.setattr(views, "DOWNLOAD_CHUNK", 2)  # several chunks, so the keyset walk is exercised
    job = job_with_log(user, 3)
    client.force_login(user)

    response = client.get(f"/jobs/{job.id}/log.txt")

    assert response["Content-Disposition"] == f'attachment; filename="job-{job.id}-log.txt"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = b"".join(response).decode().splitlines()
    assert len(lines) == 3
    expected = [("stdout", "line 1"), ("stdout", "line 2"), ("stderr", "line 3")]
    for line, (stream, message) in zip(lines, expected, strict=True):
        assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {stream} {message}", line), line
    page = client.get(f"/jobs/{job.id}/").content.decode()
    assert f'href="/jobs/{job.id}/log.txt" download>Download log (.txt)</a>' in page
    client.force_login(make_user())
    assert client.get(f"/jobs/{job.id}/log.txt").status_code == 404
