"""Pings as the web processes receive them: before Django, in batches committed before each answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone

from jobs import pings
from jobs.models import Job, JobStatus, Ping
from notifications.models import Notification
from workflows.models import Workflow
from workflows.pings import ping_key
from workflows.services import workflow_create


def ping_workflow(user, name: str = "backup", **fields) -> Workflow:
    data = {"name": name, "kind": "HEARTBEAT", "payload": {"ping": {"grace": 300}}, "interval": 60, **fields}
    workflow, _ = workflow_create(user=user, data=data)
    return workflow


def key_of(workflow: Workflow) -> str:
    return ping_key(workflow.pk, workflow.ping_key_generation)


def test_the_server_answers_pings_before_django(live_server_url, transactional_db, user):
    workflow = ping_workflow(user)
    url = f"{live_server_url}/ping/{key_of(workflow)}"

    # Its first slot is due now: the ping settles it (the tick has not reached it).
    answer = requests.get(url, headers={"User-Agent": "cron-backup/1"}, timeout=10)

    assert (answer.status_code, answer.text, answer.headers["Content-Type"]) == (200, "OK", "text/plain; charset=utf-8")
    job = Job.objects.get(workflow=workflow)
    assert job.status == JobStatus.COMPLETED
    ping = Ping.objects.get()
    assert (ping.job_id, ping.kind, ping.remote_addr) == (job.pk, "success", "127.0.0.1")
    assert ping.user_agent == "cron-backup/1"

    assert requests.post(f"{url}/3", data=b"x" * (pings.MAX_BODY_BYTES + 9000), timeout=10).status_code == 200
    latest = Ping.objects.latest("id")
    assert (latest.kind, latest.exit_status, len(latest.body)) == ("fail", 3, pings.MAX_BODY_BYTES)
    head = requests.head(url, timeout=10)
    assert (head.status_code, head.content) == (200, b"")
    put = requests.put(url, timeout=10)
    assert (put.status_code, put.headers["Allow"]) == (405, "GET, HEAD, POST")
    for wrong in ("/ping/short", f"/ping/{'x' * 42}!", f"{urlsplit(url).path}/256", f"{urlsplit(url).path}/later"):
        assert requests.get(f"{live_server_url}{wrong}", timeout=10).status_code == 404, wrong
    assert requests.get(f"{live_server_url}/ping/{'x' * 43}", timeout=10).status_code == 404  # unknown key
    assert Ping.objects.count() == 3

    # The server's limit is the default, 60 a minute for one key.
    statuses = [requests.get(url, timeout=10) for _ in range(60)]
    limited = [answer for answer in statuses if answer.status_code == 429]
    assert limited
    assert 1 <= int(limited[0].headers["Retry-After"]) <= 60
    assert limited[0].text == "Too many pings"


def test_concurrent_pings_settle_each_slot_once(live_server_url, transactional_db, user):
    workflows = [ping_workflow(user, name=f"backup {n}") for n in range(12)]
    urls = [f"{live_server_url}/ping/{key_of(workflow)}" for workflow in workflows] * 3

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda url: requests.get(url, timeout=30).status_code, urls))

    assert statuses == [200] * len(urls)
    assert Ping.objects.count() == len(urls)
    for workflow in workflows:
        (job,) = Job.objects.filter(workflow=workflow)
        assert job.status == JobStatus.COMPLETED
        assert Ping.objects.filter(workflow=workflow, job=job).count() == 1


@pytest.mark.django_db
def test_a_batch_costs_a_few_statements_whatever_its_size(user, django_assert_max_num_queries):
    later = timezone.now() + timedelta(days=1)
    workflows = [ping_workflow(user, name=f"later {n}", start_at=later.isoformat()) for n in range(20)]
    calls = [pings.PingCall(key=key_of(workflow), kind="success") for workflow in workflows]

    # The workflows, the waiting jobs, the pings (and the savepoint pair of the test's transaction).
    with django_assert_max_num_queries(5):
        answers = pings.pings_receive(calls)

    assert answers == [pings.PingAnswer(200)] * 20
    assert Ping.objects.filter(job__isnull=True).count() == 20


@pytest.mark.django_db
def test_a_batch_answers_each_ping_in_order(user):
    settled, paused = ping_workflow(user, name="settled"), ping_workflow(user, name="paused")
    Workflow.objects.filter(pk=paused.pk).update(paused_at=timezone.now())
    calls = [
        pings.PingCall(key="short", kind="success"),
        pings.PingCall(key="x" * 43, kind="success"),
        pings.PingCall(key=key_of(settled), kind="fail", exit_status=2),
        pings.PingCall(key=key_of(settled), kind="success"),
        pings.PingCall(key=key_of(paused), kind="success"),
    ]

    answers = pings.pings_receive(calls)

    assert [answer.status for answer in answers] == [404, 404, 200, 200, 200]
    (job,) = Job.objects.filter(workflow=settled)
    assert (job.status, job.exit_code) == (JobStatus.FAILED, 2)  # the first ping of the slot wins
    assert not Job.objects.filter(workflow=paused).exists()
    assert Ping.objects.filter(workflow=settled).count() == 2
    assert Ping.objects.filter(workflow=paused).count() == 1


@pytest.mark.django_db
def test_slots_settled_together_notify_reset_failures_and_start_dependents(user):
    first, second = ping_workflow(user, name="first"), ping_workflow(user, name="second")
    Workflow.objects.filter(pk=first.pk).update(consecutive_job_failures_count=2)
    after = {"after": str(first.pk), "on": "COMPLETED"}
    data = {"name": "after", "kind": "HEARTBEAT", "payload": {}, "schedule": after}
    dependent, _ = workflow_create(user=user, data=data)

    pings.pings_receive([pings.PingCall(key=key_of(w), kind="success", exit_status=0) for w in (first, second)])

    for workflow in (first, second):
        job = Job.objects.get(workflow=workflow)
        assert (job.status, job.exit_code, job.lease_expires_at) == (JobStatus.COMPLETED, 0, None)
        assert Notification.objects.filter(kind="JOB_COMPLETED", payload__job_id=str(job.pk)).exists()
    assert Workflow.objects.get(pk=first.pk).consecutive_job_failures_count == 0
    (downstream,) = Job.objects.filter(workflow=dependent)
    assert (downstream.trigger, downstream.upstream_job_id) == ("DEPENDENCY", Job.objects.get(workflow=first).pk)
