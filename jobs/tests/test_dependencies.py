"""Dependencies: a workflow whose schedule is `{"after": A, "on": ...}` runs once for each job of A
that ends as `on` says, started in the transaction that finishes A's job, never twice for one."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import wait_for
from jobs import recovery, services
from jobs.models import Job, JobLog, JobStatus, JobTrigger
from jobs.outcome import Outcome
from workflows import services as workflow_services
from workflows.models import Workflow

BUSYBOX = "chronoverse/busybox:latest"


def workflow(user, name: str, kind: str = "HEARTBEAT", payload: dict | None = None, **fields) -> Workflow:
    data = {"name": name, "kind": kind, "payload": payload or {}, **fields}
    if "schedule" not in data:
        data["interval"] = 60
    created, _ = workflow_services.workflow_create(user=user, data=data)
    return created


def after(user, upstream: Workflow, name: str, on: str = "COMPLETED", **fields) -> Workflow:
    return workflow(user, name, schedule={"after": str(upstream.pk), "on": on}, **fields)


def running_job(upstream: Workflow, worker: str = "w1") -> Job:
    job = Job.objects.create(
        workflow=upstream, user=upstream.user, scheduled_at=timezone.now(), status=JobStatus.QUEUED
    )
    return services.job_claim(job_id=job.pk, worker=worker)


def jobs_of(workflow: Workflow) -> list[Job]:
    return list(Job.objects.filter(workflow=workflow).order_by("created_at"))


@pytest.mark.django_db(transaction=True)
def test_a_chain_runs_in_order_once_per_upstream_job(celery_worker, user):
    a = workflow(user, "import")
    b = after(user, a, "transform")
    c = after(user, b, "report")

    first = services.job_run_manually(workflow=a, user=user)
    report = wait_for(lambda: Job.objects.filter(workflow=c, status=JobStatus.COMPLETED).first())

    b_job = Job.objects.get(workflow=b)
    assert (b_job.trigger, b_job.upstream_job_id) == (JobTrigger.DEPENDENCY, first.pk)
    assert (report.trigger, report.upstream_job_id) == (JobTrigger.DEPENDENCY, b_job.pk)
    first.refresh_from_db()
    assert first.completed_at <= b_job.scheduled_at <= b_job.completed_at <= report.scheduled_at
    # A dependency has no clock: it waits for its upstream, and its own runs never end it.
    for dependent in (b, c):
        dependent.refresh_from_db()
        assert (dependent.next_run_at, dependent.terminated_at) == (None, None)
    assert [len(jobs_of(w)) for w in (a, b, c)] == [1, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_fan_out_starts_each_dependent(celery_worker, user):
    a = workflow(user, "import")
    b, c = after(user, a, "left"), after(user, a, "right")

    services.job_run_manually(workflow=a, user=user)

    wait_for(lambda: all(Job.objects.filter(workflow=w, status=JobStatus.COMPLETED).exists() for w in (b, c)))


@pytest.mark.django_db
def test_a_retried_upstream_after_a_lost_worker_starts_the_dependent_once(user, settings):
    a = workflow(user, "flaky worker")
    b = after(user, a, "downstream", on="FINISHED")
    job = running_job(a, worker="lost-worker")
    # The worker is lost: its lease runs out, the reaper takes the job and queues it again.
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    recovery.reap()
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
    retried = services.job_claim(job_id=job.pk, worker="second-worker")

    assert services.job_finish(job=retried, outcome=Outcome(True), worker="second-worker")
    # The lost worker was only slow: its late report changes nothing and starts nothing.
    assert not services.job_finish(job=job, outcome=Outcome(True), worker="lost-worker")
    # A second pass over the same upstream job (a retried finish) inserts nothing either.
    services._start_dependents([Job.objects.get(pk=job.pk)])

    started = jobs_of(b)
    assert len(started) == 1
    assert started[0].upstream_job_id == job.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("on", "outcomes_that_start"),
    [("COMPLETED", {"COMPLETED"}), ("FAILED", {"FAILED"}), ("FINISHED", {"COMPLETED", "FAILED"})],
)
def test_on_says_which_ends_start_a_run_and_a_canceled_upstream_starts_nothing(user, on, outcomes_that_start):
    a = workflow(user, "upstream", max_consecutive_job_failures_allowed=10)
    b = after(user, a, "downstream", on=on, concurrency_policy="ALLOW")
    started_by = {}
    for name, outcome in (("COMPLETED", Outcome(True)), ("FAILED", Outcome(False, "Exited with code 1", 1))):
        job = running_job(a)
        services.job_finish(job=job, outcome=outcome)
        started_by[name] = Job.objects.filter(workflow=b, upstream_job=job).exists()
    canceled = running_job(a)
    services.job_cancel(job=canceled, canceled_by="test")

    assert {name for name, started in started_by.items() if started} == outcomes_that_start
    assert not Job.objects.filter(workflow=b, upstream_job=canceled).exists()


@pytest.mark.django_db
def test_a_paused_or_busy_dependent_is_not_started(user):
    a = workflow(user, "upstream")
    paused = after(user, a, "paused")
    busy = after(user, a, "busy")  # FORBID, the default: a run is skipped while one is active
    workflow_services.workflow_pause(workflow=paused)
    Job.objects.create(workflow=busy, user=user, scheduled_at=timezone.now(), status=JobStatus.RUNNING)

    services.job_finish(job=running_job(a), outcome=Outcome(True))

    assert jobs_of(paused) == []
    assert len(jobs_of(busy)) == 1  # only its own running job


@pytest.mark.django_db
def test_loops_are_refused(auth_api, user):
    a = workflow(user, "a")
    b = after(user, a, "b")
    c = after(user, b, "c")

    for target, upstream in ((a, c), (a, a), (b, c)):
        response = auth_api.patch(
            f"/api/v1/workflows/{target.pk}", {"schedule": {"after": str(upstream.pk), "on": "FINISHED"}}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"schedule.after": ["This dependency would make a loop."]}


@pytest.mark.django_db
def test_someone_elses_workflow_is_refused_as_if_it_did_not_exist(auth_api, make_user):
    theirs = workflow(make_user(), "theirs")

    def refused(after_id: str) -> dict:
        body = {"name": "d", "kind": "HEARTBEAT", "payload": {}, "schedule": {"after": after_id, "on": "COMPLETED"}}
        response = auth_api.post("/api/v1/workflows", body, format="json")
        assert response.status_code == 400
        return response.json()["error"]

    assert refused(str(theirs.pk)) == refused(str(uuid.uuid4()))
    assert refused(str(theirs.pk))["fields"] == {"schedule.after": ["No workflow of yours has this id."]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"after": "not-an-id", "on": "COMPLETED"}, "schedule.after"),
        ({"after": 7, "on": "COMPLETED"}, "schedule.after"),
        ({"after": None, "on": "COMPLETED"}, "schedule.after"),
        ({"after": "{id}", "on": "SUCCEEDED"}, "schedule.on"),
        ({"after": "{id}"}, "schedule.on"),
        ({"after": "{id}", "on": "COMPLETED", "cron": "* * * * *"}, "schedule.cron"),
    ],
)
def test_bad_dependencies_name_their_field(auth_api, user, schedule, field):
    a = workflow(user, "a")
    schedule = {key: (str(a.pk) if value == "{id}" else value) for key, value in schedule.items()}
    body = {"name": "d", "kind": "HEARTBEAT", "payload": {}, "schedule": schedule}

    response = auth_api.post("/api/v1/workflows", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_a_container_learns_its_upstream_job_and_a_webhook_receives_it(
    celery_worker, user, auth_api, docker_client, http_server
):
    a = workflow(user, "upstream")
    box = after(
        user,
        a,
        "box",
        on="FINISHED",
        kind="CONTAINER",
        payload={
            "image": BUSYBOX,
            "command": ["sh", "-c", "echo $CHRONOVERSE_UPSTREAM_JOB_ID $CHRONOVERSE_UPSTREAM_STATUS"],
        },
    )
    hook = after(user, a, "hook", kind="WEBHOOK", payload={"url": f"{http_server.url}/done"})
    wait_for(lambda: Workflow.objects.get(pk=box.pk).build_status == "COMPLETED")

    upstream = services.job_run_manually(workflow=a, user=user)
    box_job = wait_for(lambda: Job.objects.filter(workflow=box, status__in=["COMPLETED", "FAILED"]).first())
    wait_for(lambda: Job.objects.filter(workflow=hook, status="COMPLETED").exists())

    assert box_job.status == JobStatus.COMPLETED, box_job.error
    assert list(JobLog.objects.filter(job=box_job).values_list("message", flat=True)) == [f"{upstream.pk} COMPLETED"]
    (request,) = http_server.requests
    sent = json.loads(request["body"])
    assert sent["upstream_job"]["id"] == str(upstream.pk)
    assert sent["upstream_job"]["status"] == "COMPLETED"
    hook_job = auth_api.get(f"/api/v1/jobs/{Job.objects.get(workflow=hook).pk}").json()
    assert (hook_job["trigger"], hook_job["upstream_job_id"]) == ("DEPENDENCY", str(upstream.pk))
