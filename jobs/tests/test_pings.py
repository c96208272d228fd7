"""Pings: a HEARTBEAT that waits for the user's own job to call its ping_url (a dead man's switch)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from chronoverse.redis_client import get_redis
from jobs import pings
from jobs.models import PING_WORKER, Job, JobLog, JobStatus, Ping
from jobs.scheduler import scheduler_tick
from notifications.models import Notification
from workflows import services as workflow_services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def ping_workflow(auth_api, grace: int = 60, **fields) -> dict:
    body = {"name": "nightly backup", "kind": "HEARTBEAT", "payload": {"ping": {"grace": grace}}, "interval": 60}
    response = auth_api.post("/api/v1/workflows", {**body, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def path(ping_url: str, suffix: str = "") -> str:
    return urlsplit(ping_url).path + suffix


def tick(now, capture) -> int:
    with capture(execute=True):  # the dispatch after commit: the slot's job starts waiting
        return scheduler_tick(now=now)


def waiting_job(workflow_id) -> Job:
    return Job.objects.get(workflow_id=workflow_id, status=JobStatus.RUNNING, worker=PING_WORKER)


def test_a_ping_workflow_has_a_url_whose_key_the_database_does_not_hold(auth_api, settings):
    workflow = ping_workflow(auth_api)

    assert workflow["ping_url"].startswith(f"{settings.PING_BASE_URL}/ping/")
    key = workflow["ping_url"].rsplit("/", 1)[1]
    assert len(key) >= 22
    row = Workflow.objects.filter(pk=workflow["id"]).values().get()
    assert not any(key in str(value) for value in row.values())
    assert auth_api.get(f"/api/v1/workflows/{workflow['id']}").json()["ping_url"] == workflow["ping_url"]
    other = auth_api.post(
        "/api/v1/workflows", {"name": "plain", "kind": "HEARTBEAT", "payload": {}, "interval": 5}, format="json"
    )
    assert other.json()["ping_url"] is None


def test_a_ping_within_grace_completes_the_slots_job(auth_api, client, django_capture_on_commit_callbacks):
    workflow = ping_workflow(auth_api)
    assert tick(timezone.now(), django_capture_on_commit_callbacks) == 1
    job = waiting_job(workflow["id"])

    response = client.get(path(workflow["ping_url"]), HTTP_USER_AGENT="curl/8.0")

    assert (response.status_code, response.content) == (200, b"OK")
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    ping = Ping.objects.get()
    assert (ping.kind, ping.job_id, ping.user_agent) == ("success", job.pk, "curl/8.0")


def test_a_missing_ping_fails_the_slot_after_grace(auth_api, user, django_capture_on_commit_callbacks):
    workflow = ping_workflow(auth_api, grace=30)
    now = timezone.now()
    tick(now, django_capture_on_commit_callbacks)
    job = waiting_job(workflow["id"])

    assert pings.pings_expire(now=job.scheduled_at + timedelta(seconds=29)) == 0
    assert pings.pings_expire(now=job.scheduled_at + timedelta(seconds=31)) == 1

    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, "no ping within grace")
    assert Workflow.objects.get(pk=workflow["id"]).consecutive_job_failures_count == 1
    assert Notification.objects.filter(user=user, kind="JOB_FAILED").exists()


@pytest.mark.parametrize(
    ("suffix", "status", "exit_code"), [("/fail", "FAILED", None), ("/7", "FAILED", 7), ("/0", "COMPLETED", 0)]
)
def test_fail_and_exit_statuses(auth_api, client, django_capture_on_commit_callbacks, suffix, status, exit_code):
    workflow = ping_workflow(auth_api)
    tick(timezone.now(), django_capture_on_commit_callbacks)
    job = waiting_job(workflow["id"])

    assert client.post(path(workflow["ping_url"], suffix)).status_code == 200

    job.refresh_from_db()
    assert (job.status, job.exit_code) == (status, exit_code)


def test_start_marks_the_run_begun_without_settling_it(auth_api, client, django_capture_on_commit_callbacks):
    workflow = ping_workflow(auth_api)
    tick(timezone.now(), django_capture_on_commit_callbacks)

    client.get(path(workflow["ping_url"], "/start"))

    job = waiting_job(workflow["id"])
    assert job.started_at is not None


def test_an_early_ping_settles_the_coming_slot_and_the_tick_adds_no_second_job(
    auth_api, client, django_capture_on_commit_callbacks
):
    workflow = ping_workflow(auth_api, grace=120)
    slot = timezone.now() + timedelta(seconds=60)
    Workflow.objects.filter(pk=workflow["id"]).update(next_run_at=slot)

    assert client.get(path(workflow["ping_url"])).status_code == 200

    tick(slot, django_capture_on_commit_callbacks)

    (job,) = Job.objects.filter(workflow_id=workflow["id"])
    assert (job.scheduled_at, job.status) == (slot, JobStatus.COMPLETED)


def test_rotation_kills_the_old_key_at_once(auth_api, client):
    workflow = ping_workflow(auth_api)

    rotated = auth_api.post(f"/api/v1/workflows/{workflow['id']}/ping-key")

    assert rotated.status_code == 200
    assert rotated.json()["ping_url"] != workflow["ping_url"]
    assert client.get(path(workflow["ping_url"])).status_code == 404
    assert client.get(path(rotated.json()["ping_url"])).status_code == 200


def test_a_paused_workflow_records_pings_but_settles_nothing(auth_api, client, django_capture_on_commit_callbacks):
    workflow = ping_workflow(auth_api)
    tick(timezone.now(), django_capture_on_commit_callbacks)
    workflow_services.workflow_pause(workflow=Workflow.objects.get(pk=workflow["id"]))

    assert client.get(path(workflow["ping_url"])).status_code == 200

    assert Ping.objects.get().job_id is None
    assert waiting_job(workflow["id"]).status == JobStatus.RUNNING


def test_the_ping_body_reaches_the_jobs_log_and_the_ping_log(auth_api, client, django_capture_on_commit_callbacks):
    workflow = ping_workflow(auth_api)
    tick(timezone.now(), django_capture_on_commit_callbacks)
    job = waiting_job(workflow["id"])

    client.post(path(workflow["ping_url"]), "backup done\nsize 3 GB\n", content_type="text/plain")

    assert list(JobLog.objects.filter(job=job).order_by("sequence").values_list("stream", "message")) == [
        ("stdout", "backup done"),
        ("stdout", "size 3 GB"),
    ]
    listed = auth_api.get(f"/api/v1/workflows/{workflow['id']}/pings").json()
    assert [(p["kind"], p["body"], p["job_id"]) for p in listed["pings"]] == [
        ("success", "backup done\nsize 3 GB\n", str(job.pk))
    ]


def test_the_workflow_page_shows_its_ping_log_live(auth_api, client, user, django_capture_on_commit_callbacks):
    workflow = ping_workflow(auth_api)
    client.force_login(user)
    page = client.get(f"/workflows/{workflow['id']}/").content.decode()
    # live.js re-renders this region from the page's URL when a "ping" message of the workflow comes.
    live = f'data-live-region data-live-on="ping" data-live-workflow="{workflow["id"]}"'
    assert f'id="workflow-pings" class="card" {live}' in page
    assert "No ping yet." in page
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"dashboard:{user.pk}")
    pubsub.get_message(timeout=1)  # the subscribe confirmation

    with django_capture_on_commit_callbacks(execute=True):
        client.get(path(workflow["ping_url"], "/5"), HTTP_USER_AGENT="cron")

    messages = []
    while (message := pubsub.get_message(timeout=1)) is not None:
        messages.append(json.loads(message["data"]))
    assert {"type": "ping", "workflow_id": workflow["id"]} in messages
    page = client.get(f"/workflows/{workflow['id']}/").content.decode()
    assert "No ping yet." not in page
    assert "cron" in page


def test_another_user_cannot_read_the_ping_log_or_rotate_the_key(auth_api, api, make_user, make_token):
    workflow = ping_workflow(auth_api)
    _, theirs = make_token(make_user())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {theirs}")

    assert api.get(f"/api/v1/workflows/{workflow['id']}/pings").status_code == 404
    assert api.post(f"/api/v1/workflows/{workflow['id']}/ping-key").status_code == 404


def test_bad_pings(auth_api, client, django_assert_num_queries, settings):
    workflow = ping_workflow(auth_api)

    with django_assert_num_queries(0):
        assert client.get("/ping/short-key").status_code == 404
        assert client.get("/ping/" + "x" * 43 + "!").status_code == 404
    assert client.get(path(workflow["ping_url"], "/256")).status_code == 404
    assert client.get(path(workflow["ping_url"], "/later")).status_code == 404
    assert client.head(path(workflow["ping_url"])).status_code == 200
    client.post(path(workflow["ping_url"]), "x" * (pings.MAX_BODY_BYTES + 5000), content_type="text/plain")
    assert len(Ping.objects.latest("id").body) == pings.MAX_BODY_BYTES
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ping": "4/min"}
    answers = [client.get(path(workflow["ping_url"])).status_code for _ in range(3)]
    assert 429 in answers
    workflow_services.workflow_terminate(workflow=Workflow.objects.get(pk=workflow["id"]))
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ping": "1000/min"}
    assert client.get(path(workflow["ping_url"])).status_code == 404


@pytest.mark.parametrize("grace", [0, 86401, "5", None])
def test_a_grace_out_of_range_is_a_400_naming_it(auth_api, grace):
    body = {"name": "p", "kind": "HEARTBEAT", "payload": {"ping": {"grace": grace}}, "interval": 5}

    response = auth_api.post("/api/v1/workflows", body, format="json")

    assert response.status_code == 400
    assert "payload.ping.grace" in response.json()["error"]["fields"]


def test_a_slot_waiting_for_its_ping_does_not_hold_back_the_next(auth_api, client, django_capture_on_commit_callbacks):
    workflow = ping_workflow(auth_api, grace=120, interval=1)
    first = timezone.now()
    tick(first, django_capture_on_commit_callbacks)
    tick(first + timedelta(seconds=61), django_capture_on_commit_callbacks)

    waiting = Job.objects.filter(workflow_id=workflow["id"], status=JobStatus.RUNNING, worker=PING_WORKER)

    assert waiting.count() == 2
    # A ping settles the earliest slot whose window holds it.
    client.get(path(workflow["ping_url"]))
    assert list(waiting.order_by("scheduled_at").values_list("status", flat=True)) == ["RUNNING"]
    assert Job.objects.filter(workflow_id=workflow["id"], status=JobStatus.COMPLETED).count() == 1
