"""The isolation matrix: every operation of the API schema, tried by another user, by a read-only
token, and by revoked and expired tokens. Another user's resource is a 404 (never a 403, which
would tell it exists), a read-only token writes nothing, a dead token opens nothing.

The operations come from the OpenAPI schema itself, so a new endpoint joins the matrix by being
documented."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import token_revoke
from jobs.logs import LogWriter
from jobs.models import Job, JobStatus
from notifications.models import Notification
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db
# Anyone may call these: there is nothing of a user's in them.
OPEN = {"/api/v1/auth/login", "/api/v1/auth/register"}


@pytest.fixture(scope="module")
def operations(tmp_path_factory) -> list[tuple[str, str]]:
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    call_command("spectacular", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    return [
        (method.upper(), route)
        for route, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    ]


@pytest.fixture
def owned(user, make_token):
    """Something of every kind that belongs to `user`."""
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "mine", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.QUEUED)
    with LogWriter(job.pk) as log:
        log.write("stdout", "private output")
    token, _ = make_token(user, name="kept")
    notification = Notification.objects.create(user=user, kind="SYSTEM_ALERT", payload={"secret": "x"})
    return {"workflow_id": workflow.id, "job_id": job.id, "token_id": token.id, "notification": notification}


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def call(client: APIClient, method: str, route: str, ids: dict):
    url = route.format(**{key: value for key, value in ids.items() if key.endswith("_id")})
    body = {"ids": [str(ids["notification"].id)]} if route.endswith("/notifications/read") else {}
    return getattr(client, method.lower())(url, body, format="json")


def test_another_user_gets_404_on_every_resource_and_never_sees_it_in_a_list(operations, owned, make_user, make_token):
    stranger = client_for(make_token(make_user())[1])

    for method, route in operations:
        if route in OPEN or route == "/api/v1/auth/logout":  # logging out ends only the caller's token
            continue
        response = call(stranger, method, route, owned)
        if "{" in route:
            assert response.status_code == 404, (method, route, response.status_code)
        else:
            assert response.status_code < 500, (method, route)
            text = response.content.decode()
            for key in ("workflow_id", "job_id", "token_id"):
                assert str(owned[key]) not in text, (method, route, key)
            assert "private output" not in text
    # The owner's things are as they were.
    owned["notification"].refresh_from_db()
    assert owned["notification"].read_at is None
    assert Job.objects.get(pk=owned["job_id"]).status == JobStatus.QUEUED


def test_a_read_only_token_writes_nothing(operations, owned, user, make_token):
    reader = client_for(make_token(user, scopes=("read",))[1])

    for method, route in operations:
        if route in OPEN or method == "GET" or route == "/api/v1/auth/logout":
            continue
        response = call(reader, method, route, owned)
        assert response.status_code == 403, (method, route, response.status_code)
    assert Job.objects.get(pk=owned["job_id"]).status == JobStatus.QUEUED


@pytest.mark.parametrize("death", ["revoked", "expired"])
def test_a_dead_token_opens_nothing(operations, owned, user, make_token, death):
    if death == "revoked":
        token, secret = make_token(user)
        token_revoke(user=user, token_id=token.pk)
    else:
        _, secret = make_token(user, expires_at=timezone.now() + timedelta(milliseconds=1))
    dead = client_for(secret)

    for method, route in operations:
        if route in OPEN:
            continue
        assert call(dead, method, route, owned).status_code == 401, (method, route)
