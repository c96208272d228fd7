"""The WEBSOCKET kind's payload (the contract's "Client sockets"): what is accepted, stored and refused."""

from __future__ import annotations

import pytest

from workflows.models import BuildStatus, Workflow

pytestmark = pytest.mark.django_db

URL = "/api/v1/workflows"


def body(payload, **extra) -> dict:
    return {"name": "agent events", "kind": "WEBSOCKET", "payload": payload, "interval": 5, **extra}


def test_a_websocket_workflow_is_ready_at_creation_and_keeps_its_payload_as_given(auth_api):
    response = auth_api.post(
        URL,
        body({"client_name": "backup-agent.eu_1", "message": {"run": "backup"}, "ack_timeout": 120}, kind="websocket"),
        format="json",
    )

    assert response.status_code == 201, response.content
    workflow = response.json()
    assert workflow["kind"] == "WEBSOCKET"
    assert workflow["build_status"] == BuildStatus.COMPLETED
    assert workflow["next_run_at"] is not None
    assert workflow["payload"] == {"client_name": "backup-agent.eu_1", "message": {"run": "backup"}, "ack_timeout": 120}
    assert auth_api.get(f"{URL}?kind=WEBSOCKET").json()["workflows"][0]["id"] == workflow["id"]


@pytest.mark.parametrize(
    "payload",
    [
        {"client_name": "a"},
        {"client_name": "x" * 64, "message": "plain text", "ack_timeout": 1},
        {"client_name": "agent", "message": {}, "ack_timeout": 3600},
        '{"client_name": "agent", "kind": "WEBSOCKET"}',
    ],
)
def test_valid_payloads_are_accepted(auth_api, payload):
    response = auth_api.post(URL, body(payload), format="json")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "payload.client_name"),
        ({"client_name": ""}, "payload.client_name"),
        ({"client_name": "Agent"}, "payload.client_name"),
        ({"client_name": "my agent"}, "payload.client_name"),
        ({"client_name": " agent"}, "payload.client_name"),
        ({"client_name": "x" * 65}, "payload.client_name"),
        ({"client_name": "agent/1"}, "payload.client_name"),
        ({"client_name": 7}, "payload.client_name"),
        ({"client_name": None}, "payload.client_name"),
        ({"client_name": "agent", "ack_timeout": 0}, "payload.ack_timeout"),
        ({"client_name": "agent", "ack_timeout": 3601}, "payload.ack_timeout"),
        ({"client_name": "agent", "ack_timeout": "30"}, "payload.ack_timeout"),
        ({"client_name": "agent", "ack_timeout": 1.5}, "payload.ack_timeout"),
        ({"client_name": "agent", "ack_timeout": True}, "payload.ack_timeout"),
        ({"client_name": "agent", "ack_timeout": None}, "payload.ack_timeout"),
        ({"client_name": "agent", "message": 5}, "payload.message"),
        ({"client_name": "agent", "message": ["a"]}, "payload.message"),
        ({"client_name": "agent", "message": None}, "payload.message"),
        ({"client_name": "agent", "message": True}, "payload.message"),
        ({"client_name": "agent", "message": "x" * (64 * 1024)}, "payload.message"),
        ({"client_name": "agent", "url": "https://example.com"}, "payload.url"),
        ({"client_name": "agent", "kind": "WEBHOOK"}, "payload.kind"),
    ],
)
def test_every_bad_value_is_a_400_naming_its_field(auth_api, payload, field):
    response = auth_api.post(URL, body(payload), format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert field in error["fields"], error["fields"]
    assert not Workflow.objects.exists()


def test_an_update_is_validated_as_the_kind_and_the_kind_stays(auth_api):
    workflow = auth_api.post(URL, body({"client_name": "agent"}), format="json").json()

    refused = auth_api.patch(f"{URL}/{workflow['id']}", {"payload": {"client_name": "A B"}}, format="json")
    changed = auth_api.patch(
        f"{URL}/{workflow['id']}", {"payload": {"client_name": "agent-2", "ack_timeout": 5}}, format="json"
    )
    kind = auth_api.patch(f"{URL}/{workflow['id']}", {"kind": "WEBHOOK"}, format="json")

    assert refused.status_code == 400
    assert "payload.client_name" in refused.json()["error"]["fields"]
    assert changed.status_code == 200
    assert changed.json()["payload"] == {"client_name": "agent-2", "ack_timeout": 5}
    assert kind.status_code == 400
