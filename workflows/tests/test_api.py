from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditLog
from notifications.models import Notification
from workflows import services as workflow_services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

URL = "/api/v1/workflows"
FIELDS = {
    "id",
    "user_id",
    "name",
    "description",
    "kind",
    "payload",
    "interval",
    "schedule",
    "timezone",
    "max_consecutive_job_failures_allowed",
    "consecutive_job_failures_count",
    "concurrency_policy",
    "tags",
    "metadata",
    "start_at",
    "end_at",
    "build_status",
    "build_error",
    "next_run_at",
    "paused_at",
    "ping_url",
    "created_at",
    "updated_at",
    "terminated_at",
}


def create(api, **fields):
    body = {"name": "wf", "kind": "HEARTBEAT", "payload": {}, "interval": 5, **fields}
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_returns_the_whole_workflow_ready_to_run(auth_api, user):
    workflow = create(auth_api, name="Daily ETL", tags=["etl", "etl", "prod"], timezone="Europe/Berlin")

    assert set(workflow) == FIELDS
    assert workflow["user_id"] == str(user.id)
    assert workflow["build_status"] == "COMPLETED"
    assert workflow["tags"] == ["etl", "prod"]
    assert workflow["concurrency_policy"] == "FORBID"
    assert workflow["max_consecutive_job_failures_allowed"] == 3
    assert workflow["next_run_at"] is not None
    assert workflow["created_at"].endswith("Z")
    notification = Notification.objects.get(user=user, kind="WORKFLOW_CREATED")
    assert notification.payload["workflow_id"] == workflow["id"]
    assert notification.payload["workflow_name"] == "Daily ETL"
    assert notification.payload["workflow_kind"] == "HEARTBEAT"
    assert notification.payload["interval"] == 5
    assert AuditLog.objects.filter(user=user, action="workflow.created", target_id=workflow["id"]).exists()


def test_a_cron_workflow_is_due_at_its_next_slot_in_its_timezone(auth_api):
    workflow = create(auth_api, interval=None, schedule={"cron": "0 9 * * *"}, timezone="Asia/Tokyo")

    assert workflow["schedule"] == {"cron": "0 9 * * *"}
    assert workflow["next_run_at"].endswith("T00:00:00.000Z")


def test_a_container_workflow_starts_with_a_queued_build(auth_api, user):
    workflow = create(auth_api, kind="CONTAINER", payload={"image": "chronoverse/busybox:latest"})

    assert workflow["build_status"] == "QUEUED"
    assert workflow["next_run_at"] is None
    assert Workflow.objects.get(pk=workflow["id"]).builds.count() == 1


def test_get_patch_terminate_and_delete(auth_api, user):
    workflow_id = create(auth_api)["id"]

    assert auth_api.get(f"{URL}/{workflow_id}").json()["name"] == "wf"
    patched = auth_api.patch(f"{URL}/{workflow_id}", {"name": "renamed", "interval": 10, "tags": ["a"]}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["interval"], patched.json()["tags"]) == ("renamed", 10, ["a"])
    updated = Notification.objects.get(user=user, kind="WORKFLOW_UPDATED")
    assert updated.payload["changes"] == ["interval", "name", "tags"]

    terminated = auth_api.post(f"{URL}/{workflow_id}/terminate")
    again = auth_api.post(f"{URL}/{workflow_id}/terminate")
    assert terminated.status_code == 200
    assert terminated.json()["terminated_at"] is not None
    assert terminated.json()["next_run_at"] is None
    assert again.json()["terminated_at"] == terminated.json()["terminated_at"]
    assert Notification.objects.filter(user=user, kind="WORKFLOW_TERMINATED").count() == 1
    assert auth_api.patch(f"{URL}/{workflow_id}", {"name": "late"}, format="json").status_code == 409

    assert auth_api.delete(f"{URL}/{workflow_id}").status_code == 204
    assert auth_api.get(f"{URL}/{workflow_id}").status_code == 404
    assert not Workflow.objects.filter(pk=workflow_id).exists()
    assert AuditLog.objects.filter(action="workflow.deleted", target_id=workflow_id).exists()


def test_switching_from_an_interval_to_a_schedule(auth_api):
    workflow_id = create(auth_api)["id"]

    response = auth_api.patch(f"{URL}/{workflow_id}", {"schedule": {"cron": "*/15 * * * *"}}, format="json")

    assert response.status_code == 200
    assert response.json()["interval"] is None
    assert response.json()["schedule"] == {"cron": "*/15 * * * *"}
    assert response.json()["next_run_at"][14:16] in ("00", "15", "30", "45")


def test_an_update_that_changes_nothing_notifies_nobody(auth_api, user):
    workflow_id = create(auth_api)["id"]

    response = auth_api.patch(f"{URL}/{workflow_id}", {"name": "wf", "interval": 5}, format="json")

    assert response.status_code == 200
    assert not Notification.objects.filter(user=user, kind="WORKFLOW_UPDATED").exists()


def test_idempotency_key_returns_the_same_workflow_and_refuses_another_body(auth_api):
    body = {"name": "once", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-once-1"}

    first = auth_api.post(URL, body, format="json", **headers)
    repeat = auth_api.post(URL, body, format="json", **headers)
    other = auth_api.post(URL, {**body, "name": "twice"}, format="json", **headers)

    assert first.status_code == repeat.status_code == 201
    assert repeat.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert Workflow.objects.count() == 1


def test_idempotency_keys_belong_to_their_user(auth_api, api, make_user, make_token):
    _, secret = make_token(make_user())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {"name": "mine", "kind": "HEARTBEAT", "payload": {}, "interval": 5}

    a = auth_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    b = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert a.json()["id"] != b.json()["id"]


def test_list_filters(auth_api):
    hb = create(auth_api, name="Nightly backup", tags=["ops"])
    create(auth_api, name="Hourly ping", tags=["ops", "web"])
    wh = create(auth_api, name="Hook", kind="WEBHOOK", payload={"url": "http://127.0.0.1:9/x"})
    auth_api.post(f"{URL}/{hb['id']}/terminate")

    def names(**params):
        response = auth_api.get(URL, params)
        assert response.status_code == 200, response.content
        return sorted(w["name"] for w in response.json()["workflows"])

    assert names(kind="WEBHOOK") == ["Hook"]
    assert names(terminated="true") == ["Nightly backup"]
    assert names(terminated="false") == ["Hook", "Hourly ping"]
    assert names(tag="web") == ["Hourly ping"]
    assert names(tag="ops") == ["Hourly ping", "Nightly backup"]
    assert names(query="BACK") == ["Nightly backup"]
    assert names(build_status="COMPLETED") == ["Hook", "Hourly ping", "Nightly backup"]
    assert wh["kind"] == "WEBHOOK"


@pytest.mark.parametrize(
    "params", [{"kind": "FTP"}, {"build_status": "DONE"}, {"terminated": "maybe"}, {"cursor": "bad"}, {"limit": "0"}]
)
def test_list_rejects_bad_filters(auth_api, params):
    response = auth_api.get(URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def test_pagination_walks_120_workflows_without_duplicates_or_gaps(auth_api, user):
    Workflow.objects.bulk_create(
        Workflow(user=user, name=f"wf-{i}", kind="HEARTBEAT", payload={}, interval=5, build_status="COMPLETED")
        for i in range(120)
    )

    seen, cursor, pages = [], None, 0
    while True:
        response = auth_api.get(URL, {"cursor": cursor} if cursor else {})
        body = response.json()
        seen += [w["id"] for w in body["workflows"]]
        pages += 1
        cursor = body["cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert len(seen) == len(set(seen)) == 120
    assert set(seen) == {str(pk) for pk in Workflow.objects.values_list("id", flat=True)}


def test_the_list_query_count_does_not_grow_with_the_page_size(auth_api, user):
    Workflow.objects.bulk_create(
        Workflow(user=user, name=f"wf-{i}", kind="HEARTBEAT", payload={}, interval=5, build_status="COMPLETED")
        for i in range(50)
    )

    def queries(limit: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert len(auth_api.get(URL, {"limit": limit}).json()["workflows"]) == limit
        return len(captured.captured_queries)

    auth_api.get(URL)  # the first use of a token also records its last_used_at
    assert queries(2) == queries(50)


def test_another_users_workflow_is_404_on_every_endpoint(auth_api, api, make_user, make_token):
    _, secret = make_token(make_user())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    workflow_id = create(auth_api)["id"]
    path = f"{URL}/{workflow_id}"

    responses = [
        api.get(path),
        api.patch(path, {"name": "mine now"}, format="json"),
        api.post(f"{path}/terminate"),
        api.delete(path),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert all(r.json()["error"]["code"] == "not_found" for r in responses)
    assert workflow_id not in [w["id"] for w in api.get(URL).json()["workflows"]]
    workflow = Workflow.objects.get(pk=workflow_id)
    assert workflow.name == "wf"
    assert workflow.terminated_at is None


def test_a_read_token_cannot_create(user, make_token, api):
    _, secret = make_token(user, scopes=("read",))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    response = api.post(URL, {"name": "x", "kind": "HEARTBEAT", "payload": {}, "interval": 5}, format="json")

    assert response.status_code == 403


def test_a_broker_outage_after_commit_does_not_turn_a_created_workflow_into_a_500(
    auth_api, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from workflows import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(tasks.build_workflow_image, "delay", broker_down)
    body = {"name": "c", "kind": "CONTAINER", "payload": {"image": "chronoverse/busybox:latest"}, "interval": 5}

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_api.post(URL, body, format="json")

    assert response.status_code == 201
    # The build is still QUEUED in Postgres: requeue_stale_builds sends it again once Redis is back.
    assert Workflow.objects.get(pk=response.json()["id"]).builds.get().status == "QUEUED"


def test_the_fast_workflow_representation_is_exactly_what_drf_would_build(user):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework import serializers

    from workflows.api import WorkflowSerializer

    now = timezone.now()
    made = [
        workflow_services.workflow_create(user=user, data=data)[0]
        for data in (
            {
                "name": "hb",
                "kind": "HEARTBEAT",
                "payload": {},
                "interval": 5,
                "tags": ["a", "b"],
                "description": "Liveness of the nightly export.",
                "metadata": {"team": "data", "limits": [1, 2.5, None], "nested": {"ok": True}},
            },
            {
                "name": "cron",
                "kind": "WEBHOOK",
                "payload": {"url": "https://example.com/hook", "headers": {"X-A": "1"}},
                "schedule": {"cron": "*/5 * * * *"},
                "timezone": "Europe/Paris",
                "start_at": (now + timedelta(days=1)).isoformat(),
                "end_at": (now + timedelta(days=9)).isoformat(),
                "concurrency_policy": "ALLOW",
            },
            {"name": "box", "kind": "CONTAINER", "payload": {"image": "chronoverse/busybox:latest"}, "interval": 60},
        )
    ]
    workflow_services.workflow_terminate(workflow=made[0])

    for workflow in Workflow.objects.filter(pk__in=[w.pk for w in made]):
        drf = serializers.ModelSerializer.to_representation(WorkflowSerializer(), workflow)
        assert WorkflowSerializer(workflow).data == dict(drf)


def test_a_container_workflows_build_is_read_and_rebuilt_through_the_api(auth_api, api, make_user, make_token):
    container = create(auth_api, kind="CONTAINER", payload={"image": "chronoverse/busybox:latest"})
    heartbeat = create(auth_api)

    first = auth_api.get(f"{URL}/{container['id']}/build")
    rebuilt = auth_api.post(f"{URL}/{container['id']}/rebuild")

    assert first.status_code == 200
    assert first.json()["generation"] == 1
    assert set(first.json()) == {"id", "generation", "status", "image_ref", "output", "error"} | {
        "created_at",
        "started_at",
        "finished_at",
    }
    assert (rebuilt.status_code, rebuilt.json()["generation"], rebuilt.json()["status"]) == (202, 2, "QUEUED")
    assert auth_api.get(f"{URL}/{container['id']}/build").json()["id"] == rebuilt.json()["id"]
    assert auth_api.get(f"{URL}/{heartbeat['id']}/build").json()["error"]["code"] == "not_found"
    assert auth_api.post(f"{URL}/{heartbeat['id']}/rebuild").json()["error"]["code"] == "conflict"
    _, stranger = make_token(make_user())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger}")
    assert api.get(f"{URL}/{container['id']}/build").status_code == 404
    assert api.post(f"{URL}/{container['id']}/rebuild").status_code == 404
