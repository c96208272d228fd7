from __future__ import annotations

import asyncio
import json
import re

import pytest
import yaml

from chronoverse.ops import answer_liveness_first

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_liveness_is_answered_on_the_event_loop_without_django():
    reached_django = []

    async def django(scope, receive, send) -> None:
        reached_django.append(scope["path"])

    async def call(app, path: str, method: str = "GET") -> list[dict]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        await app({"type": "http", "path": path, "method": method}, None, send)
        return sent

    app = answer_liveness_first(django)
    answer = asyncio.run(call(app, "/healthz"))
    head = asyncio.run(call(app, "/healthz", "HEAD"))
    asyncio.run(call(app, "/api/v1/workflows"))
    asyncio.run(call(app, "/healthz", "POST"))

    assert answer[0]["status"] == 200
    assert json.loads(answer[1]["body"]) == {"status": "ok"}
    assert head[0]["status"] == 200
    assert head[1]["body"] == b""
    assert reached_django == ["/api/v1/workflows", "/healthz"]  # the POST gets Django's 405


def test_readyz_checks_the_real_database_redis_and_engine(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "docker": "ok"}


def test_readyz_is_503_naming_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_is_503_naming_the_engine_when_it_is_unreachable(client, settings, tmp_path):
    settings.DOCKER_HOST = f"unix://{tmp_path}/no-docker.sock"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["down"] == ["docker"]


def test_metrics_are_prometheus_text_counting_requests(client):
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert 'chronoverse_http_requests_total{method="GET",route="healthz",status="200"}' in response.content.decode()


def test_openapi_schema_describes_the_accounts_endpoints(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/users/me",
        "/api/v1/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/audit-log",
    ]:
        assert path in schema["paths"], path


def test_api_docs_load_their_assets_from_this_server(client):
    page = client.get("/api/docs/").content.decode()
    assets = [part.split('"')[0] for part in page.split('src="')[1:]]

    assert assets, "the docs page loads no scripts"
    for asset in assets:
        # Files of this server: the sidecar's static files and Swagger UI's start-up script (no CDN).
        assert asset.startswith(("/static/", "/api/docs/?script")), asset
        assert client.get(asset).status_code == 200, asset


def test_the_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/users/me" in (tmp_path / "schema.yaml").read_text()


def test_the_schema_types_payload_and_schedule_so_clients_can_build_bodies(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--file", str(tmp_path / "schema.yaml"))
    schemas = yaml.safe_load((tmp_path / "schema.yaml").read_text())["components"]["schemas"]

    # A new workflow is one of a variant per kind and timing: its kind's payload (or that payload
    # as a JSON string), exactly one of interval and schedule, and no other keys.
    variants = schemas["WorkflowFieldsRequest"]["oneOf"]
    assert [variant["title"] for variant in variants] == [
        f"{kind} on {timing}"
        for kind in ("HEARTBEAT", "CONTAINER", "WEBHOOK", "WEBSOCKET")
        for timing in ("interval", "schedule")
    ]
    heartbeat_on_schedule = variants[1]
    assert heartbeat_on_schedule["additionalProperties"] is False
    assert "schedule" in heartbeat_on_schedule["required"]
    assert "interval" not in heartbeat_on_schedule["properties"]
    assert heartbeat_on_schedule["properties"]["kind"] == {"$ref": "#/components/schemas/HeartbeatKindEnum"}
    assert [
        shape.get("$ref", shape.get("type")) for shape in heartbeat_on_schedule["properties"]["payload"]["anyOf"]
    ] == [
        "#/components/schemas/HeartbeatPayloadRequest",
        "string",
    ]
    assert [shape["$ref"].rsplit("/", 1)[1] for shape in heartbeat_on_schedule["properties"]["schedule"]["oneOf"]] == [
        "CronScheduleRequest",
        "RruleScheduleRequest",
        "RecurrenceScheduleRequest",
        "AtScheduleRequest",
        "DependencyScheduleRequest",
    ]
    assert schemas["HeartbeatKindEnum"]["enum"] == ["HEARTBEAT"]
    assert schemas["WebhookPayloadRequest"]["required"] == ["url"]
    assert "image" in schemas["ContainerPayloadRequest"]["properties"]
    assert schemas["WebsocketPayloadRequest"]["required"] == ["client_name"]
    assert schemas["WebsocketPayloadRequest"]["properties"]["ack_timeout"]["maximum"] == 3600


def test_metrics_are_for_this_machine_or_the_operators_token(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403

    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 403  # once a token is set, loopback needs it too
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers={"Authorization": "Bearer scrape-secret"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/docs/"])
def test_pages_send_a_content_security_policy_and_run_no_inline_script(client, path):
    response = client.get(path)

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    body = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)
    assert not re.search(r"\son[a-z]+=", body)


def test_the_dashboards_own_pages_run_no_inline_script(client, user):
    from django.utils import timezone

    from jobs.models import Job
    from workflows import services as workflow_services

    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status="RUNNING")
    client.force_login(user)

    for path in ("/", "/workflows/", "/workflows/new/", f"/workflows/{workflow.id}/", f"/jobs/{job.id}/"):
        body = client.get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), path
        assert not re.search(r"\son[a-z]+=", body), path
        assert 'style="' not in body, path


def test_a_chunked_request_body_is_read(live_server_url, transactional_db):
    import requests

    def chunks():
        yield b'{"email": "chunked@example.com",'
        yield b' "password": "a-long-password"}'

    response = requests.post(
        f"{live_server_url}/api/v1/auth/register",
        data=chunks(),  # a generator: requests sends it with Transfer-Encoding: chunked
        headers={"Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 201, response.text
    assert response.json()["user"]["email"] == "chunked@example.com"
