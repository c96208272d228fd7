"""The seeds' kinds as input aliases: stored and returned in the canonical form; errors name the
field the user sent."""

from __future__ import annotations

import pytest

from workflows.models import Workflow

pytestmark = pytest.mark.django_db

BUSYBOX = "chronoverse/busybox:latest"


def create(auth_api, kind, payload, **fields):
    body = {"name": f"{kind} workflow", "kind": kind, "payload": payload, "interval": 60, **fields}
    return auth_api.post("/api/v1/workflows", body, format="json")


def error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def test_http_is_a_heartbeat_http_check_whose_url_is_the_endpoint(auth_api):
    response = create(
        auth_api, "http", {"url": "https://example.com/health", "method": "HEAD", "timeout": 5, "kind": "http"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "HEARTBEAT"
    assert body["payload"] == {
        "endpoint": "https://example.com/health",
        "method": "HEAD",
        "timeout": 5,
        "kind": "HEARTBEAT",
    }
    stored = Workflow.objects.get(pk=body["id"])
    assert (stored.kind, stored.payload["endpoint"]) == ("HEARTBEAT", "https://example.com/health")
    assert auth_api.get(f"/api/v1/workflows/{body['id']}").json()["payload"] == body["payload"]


@pytest.mark.parametrize(
    ("sent", "stored"), [("HTTP", "HEARTBEAT"), ("heartbeat", "HEARTBEAT"), ("Docker", "CONTAINER")]
)
def test_kinds_are_read_in_any_case(auth_api, sent, stored):
    payload = {"image": BUSYBOX} if stored == "CONTAINER" else {"url": "https://example.com/"}
    if sent == "heartbeat":
        payload = {}

    response = create(auth_api, sent, payload)

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == stored


def test_docker_is_a_container_with_the_same_payload(auth_api):
    response = create(auth_api, "docker", {"image": BUSYBOX, "command": ["true"]})

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "CONTAINER"
    assert response.json()["payload"] == {"image": BUSYBOX, "command": ["true"]}


def test_script_runs_sh_c_in_the_default_or_the_given_image(auth_api, settings):
    settings.SCRIPT_DEFAULT_IMAGE = BUSYBOX
    default = create(auth_api, "script", {"script": "echo hi"})
    chosen = create(auth_api, "script", {"script": "echo hi", "image": "chronoverse/python:3.11"})

    assert default.status_code == 201, default.content
    assert default.json()["kind"] == "CONTAINER"
    assert default.json()["payload"] == {"image": BUSYBOX, "command": ["sh", "-c", "echo hi"]}
    assert chosen.json()["payload"]["image"] == "chronoverse/python:3.11"


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        ("http", {}, "payload.url"),
        ("http", {"url": "ftp://example.com/"}, "payload.url"),
        ("http", {"url": "https://example.com/", "endpoint": "https://example.com/"}, "payload.endpoint"),
        ("http", {"url": "https://example.com/", "timeout": 0}, "payload.timeout"),
        ("http", {"url": "https://example.com/", "kind": "docker"}, "payload.kind"),
        ("script", {}, "payload.script"),
        ("script", {"script": "   "}, "payload.script"),
        ("script", {"script": "x" * 8193}, "payload.script"),
        ("script", {"script": "true", "image": "Not An Image"}, "payload.image"),
        ("script", {"script": "true", "env": {}}, "payload.env"),
        ("docker", {}, "payload.image"),
    ],
)
def test_errors_name_the_field_the_user_sent(auth_api, kind, payload, field):
    fields = error_fields(create(auth_api, kind, payload))

    assert field in fields, fields
    assert not {"payload.endpoint", "payload.command"} & set(fields) - {field}


@pytest.mark.parametrize("kind", ["ftp", "", "scripts", 7])
def test_an_unknown_kind_is_still_a_400_naming_kind(auth_api, kind):
    assert "kind" in error_fields(create(auth_api, kind, {}))


def test_a_patch_may_send_the_alias_form(auth_api, settings):
    settings.SCRIPT_DEFAULT_IMAGE = BUSYBOX
    check = create(auth_api, "http", {"url": "https://example.com/a"}).json()
    script = create(auth_api, "script", {"script": "echo a"}).json()

    patched = auth_api.patch(
        f"/api/v1/workflows/{check['id']}",
        {"payload": '{"url": "https://example.com/b", "timeout": 30}'},
        format="json",
    )
    rescripted = auth_api.patch(f"/api/v1/workflows/{script['id']}", {"payload": {"script": "echo b"}}, format="json")
    bad = auth_api.patch(f"/api/v1/workflows/{check['id']}", {"payload": {"url": "nope"}}, format="json")

    assert patched.status_code == 200, patched.content
    assert patched.json()["payload"] == {"endpoint": "https://example.com/b", "timeout": 30}
    assert rescripted.json()["payload"] == {"image": BUSYBOX, "command": ["sh", "-c", "echo b"]}
    assert "payload.url" in error_fields(bad)


def test_the_kind_filter_takes_aliases_too(auth_api):
    create(auth_api, "http", {"url": "https://example.com/"})
    create(auth_api, "docker", {"image": BUSYBOX})

    by_alias = auth_api.get("/api/v1/workflows?kind=http").json()["workflows"]
    by_lower = auth_api.get("/api/v1/workflows?kind=container").json()["workflows"]

    assert [w["kind"] for w in by_alias] == ["HEARTBEAT"]
    assert [w["kind"] for w in by_lower] == ["CONTAINER"]
