"""The rollups (jobs.rollups) hold exactly what the jobs table does: every path that finishes a job
adds it once, every stored log line is counted, and a deleted workflow's jobs stay in its user's."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import pings, services
from jobs.logs import LogLine, LogWriter, copy_lines
from jobs.models import FINISHED, PING_WORKER, Job, JobDurationCount, JobLog, JobRollup, JobStatus
from jobs.outcome import Outcome
from jobs.rollups import atomic_with_rollups, duration_bucket, rollups_add_finished
from jobs.scheduler import scheduler_tick
from workflows import services as workflow_services
from workflows.models import BuildStatus, Workflow

pytestmark = pytest.mark.django_db


def expected_rollups(user) -> tuple[dict, Counter]:
    """What the rollups of `user` must hold, computed from the jobs and log tables."""
    rows: dict = {}

    def add(key, **amounts) -> None:
        row = rows.setdefault(key, Counter())
        row.update(amounts)

    histogram: Counter = Counter()
    for job in Job.objects.filter(user=user, status__in=FINISHED):
        hour = job.completed_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        timed = job.status in (JobStatus.COMPLETED, JobStatus.FAILED) and job.duration_seconds is not None
        amounts = {
            "completed": int(job.status == JobStatus.COMPLETED),
            "failed": int(job.status == JobStatus.FAILED),
            "canceled": int(job.status == JobStatus.CANCELED),
            "duration_count": int(timed),
            "duration_sum": job.duration_seconds if timed else 0.0,
        }
        for key in ((job.workflow_id, hour), (None, hour), (job.workflow_id, None), (None, None)):
            add(key, **amounts)
        if timed:
            histogram[(job.workflow_id, duration_bucket(job.duration_seconds))] += 1
            histogram[(None, duration_bucket(job.duration_seconds))] += 1
    for workflow_id in Job.objects.filter(user=user).values_list("workflow_id", flat=True).distinct():
        lines = JobLog.objects.filter(job__workflow_id=workflow_id).count()
        if lines:
            add((workflow_id, None), log_lines=lines)
            add((None, None), log_lines=lines)
    return rows, histogram


def stored_rollups(user) -> tuple[dict, Counter]:
    fields = ("completed", "failed", "canceled", "duration_count", "duration_sum", "log_lines")
    rows = {
        (row["workflow_id"], row["period"]): Counter({f: row[f] for f in fields if row[f]})
        for row in JobRollup.objects.filter(user=user).values("workflow_id", "period", *fields)
    }
    histogram = Counter(
        {
            (workflow_id, bucket): count
            for workflow_id, bucket, count in JobDurationCount.objects.filter(user=user).values_list(
                "workflow_id", "bucket", "count"
            )
        }
    )
    return rows, histogram


def assert_rollups_match_jobs(user) -> None:
    expected, expected_histogram = expected_rollups(user)
    stored, histogram = stored_rollups(user)
    assert stored.keys() == expected.keys()
    for key, row in expected.items():
        assert stored[key].keys() == {f for f, value in row.items() if value}, key
        for field, value in row.items():
            assert stored[key][field] == pytest.approx(value), (key, field)
    assert histogram == expected_histogram


def heartbeat(user, **fields) -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5, **fields}
    )
    return workflow


def queued(workflow, user) -> Job:
    job = services.job_run_manually(workflow=workflow, user=user)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    job.refresh_from_db()
    return job


def running(workflow, user, worker: str = "w1") -> Job:
    job = services.job_claim(job_id=queued(workflow, user).pk, worker=worker)
    assert job is not None
    return job


def test_finishing_a_job_adds_it_once(user):
    workflow = heartbeat(user)
    done, failed = running(workflow, user), running(workflow, user)

    assert services.job_finish(job=done, outcome=Outcome(True), worker="w1")
    assert services.job_finish(job=failed, outcome=Outcome(False, "boom"), worker="w1")
    # A second report of the same outcome (a retried task) finds the job finished and adds nothing.
    assert not services.job_finish(job=done, outcome=Outcome(True), worker="w1")

    assert_rollups_match_jobs(user)
    totals = JobRollup.objects.get(user=user, workflow_id=None, period=None)
    assert (totals.completed, totals.failed, totals.duration_count) == (1, 1, 2)


def test_heartbeats_finished_in_a_batch_are_added_together(user, make_user):
    other = make_user()
    jobs = [queued(heartbeat(user), user) for _ in range(3)] + [queued(heartbeat(other), other)]
    jobs.append(queued(Workflow.objects.get(pk=jobs[0].workflow_id), user))

    assert services.heartbeats_complete(job_ids=[job.pk for job in jobs]) == 5
    assert services.heartbeats_complete(job_ids=[job.pk for job in jobs]) == 0

    assert_rollups_match_jobs(user)
    assert_rollups_match_jobs(other)
    assert JobRollup.objects.get(user=user, workflow_id=None, period=None).completed == 4
    assert JobDurationCount.objects.get(user=user, workflow_id=None).bucket == 0


def test_cancels_are_added_once_whichever_way_they_go(user):
    workflow = heartbeat(user)
    services.job_cancel(job=queued(workflow, user), canceled_by="someone")
    services.job_cancel(job=running(workflow, user), canceled_by="someone")
    pending = services.job_run_manually(workflow=workflow, user=user)
    services.job_cancel(job=pending, canceled_by="someone")
    container = Workflow.objects.create(
        user=user,
        name="box",
        kind="CONTAINER",
        payload={"image": "chronoverse/busybox:latest"},
        interval=5,
        build_status=BuildStatus.COMPLETED,
    )
    # A running container is CANCELED once it is gone: requested, then completed by its worker,
    # whose own finish arriving meanwhile records the cancel instead.
    stopping = running(container, user)
    services.job_cancel(job=stopping, canceled_by="someone")
    assert not JobRollup.objects.filter(user=user, workflow_id=container.pk).exists()
    assert services.job_finish(job=stopping, outcome=Outcome(True), worker="w1")
    assert Job.objects.get(pk=stopping.pk).status == JobStatus.CANCELED
    assert not services.job_cancel_complete(job=stopping, worker="w1")

    assert_rollups_match_jobs(user)
    assert JobRollup.objects.get(user=user, workflow_id=None, period=None).canceled == 4


def test_a_job_given_up_after_its_attempts_is_added_once(user, settings):
    settings.JOB_MAX_ATTEMPTS = 2
    job = running(heartbeat(user), user)

    assert services.job_retry_or_fail(job=job, reason="engine down", worker="w1") == JobStatus.QUEUED
    assert not JobRollup.objects.filter(user=user).exists()
    job = services.job_claim(job_id=job.pk, worker="w2")
    assert services.job_retry_or_fail(job=job, reason="engine down", worker="w2") == JobStatus.FAILED

    assert_rollups_match_jobs(user)
    assert JobRollup.objects.get(user=user, workflow_id=None, period=None).failed == 1


def test_pings_settle_and_expire_slots_and_their_bodies_are_counted(user, django_capture_on_commit_callbacks, client):
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "cron", "kind": "HEARTBEAT", "payload": {"ping": {"grace": 30}}, "interval": 60}
    )
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        scheduler_tick(now=now)

    response = client.post(urlsplit(workflow_ping_url(workflow)).path, b"one\ntwo\n", content_type="text/plain")
    with django_capture_on_commit_callbacks(execute=True):
        scheduler_tick(now=now + timedelta(minutes=60))
    waiting = Job.objects.get(workflow=workflow, status=JobStatus.RUNNING, worker=PING_WORKER)
    assert pings.pings_expire(now=waiting.scheduled_at + timedelta(seconds=31)) == 1

    assert response.status_code == 200
    assert Job.objects.filter(workflow=workflow, status=JobStatus.COMPLETED).count() == 1
    assert_rollups_match_jobs(user)
    totals = JobRollup.objects.get(user=user, workflow_id=None, period=None)
    assert (totals.completed, totals.failed, totals.log_lines) == (1, 1, 2)


def workflow_ping_url(workflow: Workflow) -> str:
    from workflows.pings import ping_url

    url = ping_url(workflow)
    assert url is not None
    return url


def test_every_stored_log_line_is_counted(user):
    job = running(heartbeat(user), user)
    with LogWriter(job.pk) as log:
        for n in range(12):
            log.write("stdout", f"line {n}")
        log.flush()
        log.write("stderr", "last")
    services.job_finish(job=job, outcome=Outcome(True), worker="w1")

    assert_rollups_match_jobs(user)
    assert JobRollup.objects.get(user=user, workflow_id=job.workflow_id, period=None).log_lines == 13


def test_stopping_and_deleting_a_workflow_keeps_its_jobs_in_its_users_rollups(user):
    workflow, kept = heartbeat(user), heartbeat(user)
    services.job_finish(job=running(workflow, user), outcome=Outcome(True), worker="w1")
    services.job_finish(job=running(kept, user), outcome=Outcome(False, "no"), worker="w1")
    queued(workflow, user)
    services.job_run_manually(workflow=workflow, user=user)
    before = JobRollup.objects.get(user=user, workflow_id=None, period=None)

    services.workflow_remove(workflow=workflow)

    totals = JobRollup.objects.get(user=user, workflow_id=None, period=None)
    assert (totals.completed, totals.failed, totals.canceled) == (before.completed, before.failed, 2)
    assert not JobRollup.objects.filter(workflow_id=workflow.pk).exists()
    assert not JobDurationCount.objects.filter(workflow_id=workflow.pk).exists()
    assert JobRollup.objects.filter(workflow_id=kept.pk).exists()


def test_a_batch_of_pings_adds_its_jobs_and_lines_in_one_statement(user, django_capture_on_commit_callbacks):
    from workflows.pings import ping_key

    workflows = [
        workflow_services.workflow_create(
            user=user,
            data={"name": f"cron {n}", "kind": "HEARTBEAT", "payload": {"ping": {"grace": 60}}, "interval": 60},
        )[0]
        for n in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        scheduler_tick(now=timezone.now())
    calls = [
        pings.PingCall(key=ping_key(workflows[0].pk, 0), kind="success", body=b"backed up\n3 files\n"),
        pings.PingCall(key=ping_key(workflows[1].pk, 0), kind="fail", exit_status=3, body=b"disk full\n"),
        pings.PingCall(key=ping_key(workflows[2].pk, 0), kind="success"),
    ]

    with CaptureQueriesContext(connection) as queries:
        assert [answer.status for answer in pings.pings_receive(calls)] == [200, 200, 200]

    assert_rollups_match_jobs(user)
    totals = JobRollup.objects.get(user=user, workflow_id=None, period=None)
    assert (totals.completed, totals.failed, totals.log_lines) == (2, 1, 3)
    assert_rollups_added_last_and_once(queries)


def rollup_statements(queries) -> list[int]:
    return [n for n, query in enumerate(queries.captured_queries) if "INSERT INTO jobs_jobrollup" in query["sql"]]


def assert_rollups_added_last_and_once(queries) -> None:
    """One rollup statement, and no statement after it but the transaction's own end: the rows it
    locks are held for the commit only, and never while waiting for another lock."""
    (position,) = rollup_statements(queries)
    after = [query["sql"] for query in queries.captured_queries[position + 1 :]]
    assert all(sql.startswith(("RELEASE SAVEPOINT", "SAVEPOINT")) for sql in after), after


def test_finishing_a_job_adds_it_as_the_transactions_last_statement(user, settings):
    workflow = heartbeat(user, max_consecutive_job_failures_allowed=1)
    job = running(workflow, user)
    queued(workflow, user)  # canceled when the failure terminates the workflow, in the same transaction

    with CaptureQueriesContext(connection) as queries:
        services.job_finish(job=job, outcome=Outcome(False, "boom"), worker="w1")

    assert Workflow.objects.get(pk=workflow.pk).terminated_at is not None
    assert_rollups_added_last_and_once(queries)
    assert_rollups_match_jobs(user)
    totals = JobRollup.objects.get(user=user, workflow_id=None, period=None)
    assert (totals.failed, totals.canceled) == (1, 1)


def test_stopping_a_workflow_adds_its_canceled_jobs_at_the_end(user):
    workflow = heartbeat(user)
    for _ in range(3):
        queued(workflow, user)

    with CaptureQueriesContext(connection) as queries:
        services.workflow_stop(workflow=workflow)

    assert_rollups_added_last_and_once(queries)
    assert JobRollup.objects.get(user=user, workflow_id=None, period=None).canceled == 3


def test_what_a_rolled_back_block_added_is_not_counted(user):
    job = running(heartbeat(user), user)

    with atomic_with_rollups():
        try:
            with atomic_with_rollups():
                copy_lines(job.pk, [LogLine(1, "stdout", "lost", timezone.now())])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        copy_lines(job.pk, [LogLine(1, "stdout", "kept", timezone.now())])
        # A job reported finished that is not (its update rolled back, or never made) adds nothing.
        rollups_add_finished([job.pk])

    assert JobLog.objects.filter(job=job).count() == 1
    assert JobRollup.objects.get(user=user, workflow_id=None, period=None).log_lines == 1
    assert JobRollup.objects.get(user=user, workflow_id=None, period=None).completed == 0
