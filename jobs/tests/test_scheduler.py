"""The scheduler tick: due workflows become jobs exactly once per slot."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.scheduler import scheduler_tick
from jobs.services import heartbeats_complete, job_dispatch
from workflows import services as workflow_services
from workflows.models import BuildStatus, Workflow


def heartbeat(user, **fields) -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 1, **fields}
    )
    return workflow


def run_due(now) -> None:
    """One tick, then dispatch and finish its heartbeats as workers would (after-commit hooks do
    not fire inside a test's transaction)."""
    scheduler_tick(now=now)
    job_dispatch(job_ids=list(Job.objects.filter(status=JobStatus.PENDING).values_list("pk", flat=True)))
    heartbeats_complete(job_ids=list(Job.objects.filter(status=JobStatus.QUEUED).values_list("pk", flat=True)))


def slots(workflow: Workflow) -> list:
    return list(Job.objects.filter(workflow=workflow).order_by("scheduled_at").values_list("scheduled_at", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_one_minute_workflow_gets_one_job_per_slot_over_an_hour_with_racing_ticks(user):
    workflow = heartbeat(user)
    start = workflow.next_run_at
    racers = 3

    def tick(now) -> None:
        try:
            scheduler_tick(now=now)
        finally:
            connection.close()

    for step in range(0, 3600 + 1, 15):
        now = start + timedelta(seconds=step)
        threads = [threading.Thread(target=tick, args=(now,)) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Finish what was queued, as the workers would, so FORBID never has to skip a slot.
        heartbeats_complete(job_ids=list(Job.objects.filter(status=JobStatus.QUEUED).values_list("pk", flat=True)))

    expected = [start + timedelta(minutes=m) for m in range(61)]
    assert slots(workflow) == expected
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 61


@pytest.mark.django_db
def test_missed_slots_after_downtime_are_coalesced_into_one_run(user):
    workflow = heartbeat(user, interval=10)
    now = timezone.now()
    last_slot = now - timedelta(hours=3, minutes=4)
    Workflow.objects.filter(pk=workflow.pk).update(next_run_at=last_slot)

    created = scheduler_tick(now=now)

    workflow.refresh_from_db()
    assert created == 1
    assert slots(workflow) == [last_slot]
    assert now < workflow.next_run_at <= now + timedelta(minutes=10)
    assert (workflow.next_run_at - last_slot) % timedelta(minutes=10) == timedelta(0)


@pytest.mark.django_db
def test_terminated_unbuilt_and_failed_workflows_are_never_scheduled(user):
    past = timezone.now() - timedelta(minutes=1)
    terminated, unbuilt, failed = heartbeat(user), heartbeat(user), heartbeat(user)
    workflow_services.workflow_terminate(workflow=terminated)
    Workflow.objects.filter(pk=terminated.pk).update(next_run_at=past)
    Workflow.objects.filter(pk=unbuilt.pk).update(build_status=BuildStatus.QUEUED, next_run_at=past)
    Workflow.objects.filter(pk=failed.pk).update(build_status=BuildStatus.FAILED, next_run_at=past)

    assert scheduler_tick() == 0
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "jobs_after_second_slot", "first_job_status"),
    [
        ("FORBID", 1, JobStatus.QUEUED),
        ("ALLOW", 2, JobStatus.QUEUED),
        ("REPLACE", 2, JobStatus.CANCELED),
    ],
)
def test_the_concurrency_policy_decides_what_happens_while_a_run_is_active(
    user, policy, jobs_after_second_slot, first_job_status
):
    workflow = heartbeat(user, concurrency_policy=policy)
    start = workflow.next_run_at
    scheduler_tick(now=start)
    Job.objects.update(status=JobStatus.QUEUED)  # the first run is still waiting for a worker

    scheduler_tick(now=start + timedelta(minutes=1))

    jobs = list(Job.objects.filter(workflow=workflow).order_by("scheduled_at"))
    assert len(jobs) == jobs_after_second_slot
    assert jobs[0].status == first_job_status
    workflow.refresh_from_db()
    assert workflow.next_run_at == start + timedelta(minutes=2)


@pytest.mark.django_db
def test_the_tick_costs_the_same_queries_for_5_or_50_due_workflows(user):
    def due(count: int) -> int:
        Workflow.objects.all().delete()
        past = timezone.now() - timedelta(seconds=1)
        Workflow.objects.bulk_create(
            Workflow(
                user=user,
                name=f"w{i}",
                kind="HEARTBEAT",
                payload={},
                interval=1,
                build_status=BuildStatus.COMPLETED,
                next_run_at=past,
            )
            for i in range(count)
        )
        with CaptureQueriesContext(connection) as captured:
            assert scheduler_tick() == count
        return len(captured.captured_queries)

    assert due(5) == due(50)


@pytest.mark.django_db
def test_a_one_time_workflow_ends_after_its_run(user):
    at = timezone.now() + timedelta(minutes=5)
    workflow = heartbeat(user, interval=None, schedule={"at": at.isoformat()})

    run_due(at)

    workflow.refresh_from_db()
    assert Job.objects.filter(workflow=workflow).count() == 1
    assert workflow.terminated_at is not None
    assert workflow.termination_reason == "schedule_ended"
    assert scheduler_tick(now=at + timedelta(days=1)) == 0


@pytest.mark.django_db
def test_a_workflow_past_its_end_at_terminates_itself(user):
    end = timezone.now() + timedelta(minutes=90)
    workflow = heartbeat(user, interval=60, end_at=end.isoformat())
    start = workflow.next_run_at

    run_due(start)
    run_due(start + timedelta(minutes=60))

    workflow.refresh_from_db()
    assert len(slots(workflow)) == 2
    assert workflow.termination_reason == "schedule_ended"


@pytest.mark.django_db
def test_a_one_time_workflow_whose_run_is_canceled_still_ends(user):
    at = timezone.now() + timedelta(minutes=5)
    workflow = heartbeat(user, interval=None, schedule={"at": at.isoformat()})
    scheduler_tick(now=at)
    job = Job.objects.select_related("workflow", "user").get(workflow=workflow)

    from jobs.services import job_cancel

    job_cancel(job=job, canceled_by=str(user.id))

    workflow.refresh_from_db()
    assert workflow.termination_reason == "schedule_ended"


@pytest.mark.django_db
def test_the_last_slot_skipped_by_forbid_ends_the_schedule_when_the_active_run_ends(user):
    at = timezone.now() + timedelta(minutes=5)
    workflow = heartbeat(user, interval=None, schedule={"at": at.isoformat()})
    manual = Job.objects.create(
        workflow=workflow, user=user, scheduled_at=at, status=JobStatus.QUEUED, trigger="MANUAL"
    )

    scheduler_tick(now=at)

    workflow.refresh_from_db()
    manual.refresh_from_db()
    assert manual.status == JobStatus.QUEUED  # not canceled by the end of the schedule
    assert workflow.terminated_at is None
    heartbeats_complete(job_ids=[manual.pk])
    workflow.refresh_from_db()
    assert workflow.termination_reason == "schedule_ended"
