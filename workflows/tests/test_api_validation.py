"""Every validation rule of the workflow contract answers 400 and names the field."""

from __future__ import annotations

import json

import pytest

from workflows.models import Workflow

pytestmark = pytest.mark.django_db

URL = "/api/v1/workflows"
BUSYBOX = "chronoverse/busybox:latest"


def base(kind: str = "HEARTBEAT", payload=None, **extra) -> dict:
    return {"name": "wf", "kind": kind, "payload": {} if payload is None else payload, "interval": 5, **extra}


def assert_400(response, field: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    named = error["fields"]
    assert any(name == field or name.startswith(f"{field}.") for name in named), named


CASES = [
    # the request itself
    ({"kind": "HEARTBEAT", "payload": {}, "interval": 5}, "name"),
    (base(name=""), "name"),
    (base(name="   "), "name"),
    (base(name="x" * 256), "name"),
    (base(name=7), "name"),
    (base(kind="FTP"), "kind"),
    (base(kind=None), "kind"),
    ({"name": "wf", "payload": {}, "interval": 5}, "kind"),
    ({"name": "wf", "kind": "HEARTBEAT", "interval": 5}, "payload"),
    (base(unknown=1), "unknown"),
    (base(payload="just a string"), "payload"),
    (base(payload=None) | {"payload": None}, "payload"),
    (base(payload=[1, 2]), "payload"),
    (base(payload=42), "payload"),
    (base(payload='"a json string"'), "payload"),
    (base(payload="{not json"), "payload"),
    # description and metadata
    (base(description="x" * 2001), "description"),
    (base(description=5), "description"),
    (base(description=None), "description"),
    (base(description=["a"]), "description"),
    (base(metadata=[1, 2]), "metadata"),
    (base(metadata="a string"), "metadata"),
    (base(metadata='{"a json": "string"}'), "metadata"),
    (base(metadata=42), "metadata"),
    (base(metadata=True), "metadata"),
    (base(metadata=None), "metadata"),
    (base(metadata={"blob": "x" * (16 * 1024)}), "metadata"),
    # timing
    (base(interval=0), "interval"),
    (base(interval=10081), "interval"),
    (base(interval="5"), "interval"),
    (base(interval=5.5), "interval"),
    (base(interval=True), "interval"),
    (base(interval=None), "interval"),
    (base(schedule={"cron": "*/5 * * * *"}), "interval"),
    (base(interval=None, schedule={"cron": "not a cron"}), "schedule.cron"),
    (base(interval=None, schedule={"cron": "* * * * * *"}), "schedule.cron"),
    (base(interval=None, schedule={"cron": 5}), "schedule.cron"),
    (base(interval=None, schedule={"rrule": "FREQ=NEVER"}), "schedule.rrule"),
    (base(interval=None, schedule={"rrule": "FREQ=SECONDLY"}), "schedule.rrule"),
    # Empty only from this start (02:43): dateutil finds it out while walking the rule.
    (
        base(interval=None, schedule={"rrule": "FREQ=MINUTELY;INTERVAL=90;BYHOUR=3,15"}, start_at="2031-01-07T02:43Z"),
        "schedule.rrule",
    ),
    (
        base(interval=None, schedule={"rrule": "FREQ=HOURLY;INTERVAL=2;BYHOUR=1"}, start_at="2031-01-07T02:00Z"),
        "schedule.rrule",
    ),
    (
        base(
            interval=None,
            schedule={
                "rrule": "FREQ=DAILY;COUNT=1;BYHOUR=0",
            },
            start_at="2001-01-01T00:00:00Z",
        ),
        "schedule",
    ),
    (base(interval=None, schedule={"at": "yesterday"}), "schedule.at"),
    (base(interval=None, schedule={"at": "2001-01-01T00:00:00Z"}), "schedule.at"),
    (base(interval=None, schedule={"at": "2030-01-01T00:00:00"}), "schedule.at"),
    (base(interval=None, schedule={"every": "day"}), "schedule.every"),
    (base(interval=None, schedule={"cron": "* * * * *", "at": "2030-01-01T00:00:00Z"}), "schedule"),
    (base(interval=None, schedule="*/5 * * * *"), "schedule"),
    (base(interval=None, schedule={}), "schedule"),
    (base(timezone="Mars/Olympus"), "timezone"),
    (base(timezone=3), "timezone"),
    (base(start_at="soon"), "start_at"),
    (base(end_at="2001-01-01T00:00:00Z"), "end_at"),
    (base(start_at="2031-01-02T00:00:00Z", end_at="2031-01-01T00:00:00Z"), "end_at"),
    # limits and labels
    (base(max_consecutive_job_failures_allowed=0), "max_consecutive_job_failures_allowed"),
    (base(max_consecutive_job_failures_allowed=101), "max_consecutive_job_failures_allowed"),
    (base(max_consecutive_job_failures_allowed="3"), "max_consecutive_job_failures_allowed"),
    (base(concurrency_policy="SOMETIMES"), "concurrency_policy"),
    (base(tags=["Upper"]), "tags"),
    (base(tags=["has space"]), "tags"),
    (base(tags=[""]), "tags"),
    (base(tags=["x" * 65]), "tags"),
    (base(tags=[f"t{i}" for i in range(21)]), "tags"),
    (base(tags="one"), "tags"),
    (base(tags=[1]), "tags"),
    # HEARTBEAT payloads
    (base(payload={"endpoint": "ftp://example.com"}), "payload.endpoint"),
    (base(payload={"endpoint": "not a url"}), "payload.endpoint"),
    (base(payload={"endpoint": "http://example.com", "method": "POST"}), "payload.method"),
    (base(payload={"endpoint": "http://example.com", "expected_status_code": 99}), "payload.expected_status_code"),
    (base(payload={"endpoint": "http://example.com", "expected_status_code": "200"}), "payload.expected_status_code"),
    (base(payload={"endpoint": "http://example.com", "timeout": 0}), "payload.timeout"),
    (base(payload={"endpoint": "http://example.com", "timeout": 301}), "payload.timeout"),
    (base(payload={"endpoint": "http://example.com", "headers": {"X": 1}}), "payload.headers"),
    (base(payload={"endpoint": "http://example.com", "headers": ["X: 1"]}), "payload.headers"),
    (base(payload={"timeout": 5}), "payload.timeout"),
    (base(payload={"kind": "CONTAINER"}), "payload.kind"),
    (base(payload={"url": "http://example.com"}), "payload.url"),
    # CONTAINER payloads
    (base("CONTAINER", {}), "payload.image"),
    (base("CONTAINER", {"image": ""}), "payload.image"),
    (base("CONTAINER", {"image": "has space"}), "payload.image"),
    (base("CONTAINER", {"image": 5}), "payload.image"),
    (base("CONTAINER", {"image": "Invalid/Upper:tag"}), "payload.image"),
    (base("CONTAINER", {"image": "busybox:"}), "payload.image"),
    (base("CONTAINER", {"image": "a//b"}), "payload.image"),
    (base("CONTAINER", {"image": BUSYBOX, "dockerfile": "FROM scratch"}), "payload.image"),
    (base("CONTAINER", {"image": BUSYBOX, "files": {"a": "b"}}), "payload.files"),
    (base("CONTAINER", {"dockerfile": "FROM x", "files": {"../escape": "x"}}), "payload.files"),
    (base("CONTAINER", {"dockerfile": "FROM x", "files": {"/abs": "x"}}), "payload.files"),
    (base("CONTAINER", {"dockerfile": "FROM x", "files": {"a": 1}}), "payload.files"),
    (base("CONTAINER", {"image": BUSYBOX, "command": "echo hi"}), "payload.command"),
    (base("CONTAINER", {"image": BUSYBOX, "command": ["echo", 1]}), "payload.command"),
    (base("CONTAINER", {"image": BUSYBOX, "args": "x"}), "payload.args"),
    (base("CONTAINER", {"image": BUSYBOX, "env": {"A": 1}}), "payload.env"),
    (base("CONTAINER", {"image": BUSYBOX, "env": {"1BAD": "x"}}), "payload.env"),
    (base("CONTAINER", {"image": BUSYBOX, "env": ["A=1"]}), "payload.env"),
    (base("CONTAINER", {"image": BUSYBOX, "working_dir": "relative"}), "payload.working_dir"),
    (base("CONTAINER", {"image": BUSYBOX, "timeout": 0}), "payload.timeout"),
    (base("CONTAINER", {"image": BUSYBOX, "timeout": 86401}), "payload.timeout"),
    (base("CONTAINER", {"image": BUSYBOX, "timeout": "60"}), "payload.timeout"),
    (base("CONTAINER", {"image": BUSYBOX, "memory_mb": 1}), "payload.memory_mb"),
    (base("CONTAINER", {"image": BUSYBOX, "memory_mb": 1.5}), "payload.memory_mb"),
    (base("CONTAINER", {"image": BUSYBOX, "cpus": 0}), "payload.cpus"),
    (base("CONTAINER", {"image": BUSYBOX, "cpus": "1"}), "payload.cpus"),
    (base("CONTAINER", {"image": BUSYBOX, "network": "host"}), "payload.network"),
    (base("CONTAINER", {"image": BUSYBOX, "volumes": [{"source": "/etc", "target": "/x"}]}), "payload.volumes"),
    (base("CONTAINER", {"image": BUSYBOX, "volumes": [{"source": "data", "target": "relative"}]}), "payload.volumes"),
    (base("CONTAINER", {"image": BUSYBOX, "volumes": [{"source": "data"}]}), "payload.volumes"),
    (
        base("CONTAINER", {"image": BUSYBOX, "volumes": [{"source": "data", "target": "/d", "read_only": "yes"}]}),
        "payload.volumes",
    ),
    (base("CONTAINER", {"image": BUSYBOX, "volumes": {"source": "data"}}), "payload.volumes"),
    (base("CONTAINER", {"image": BUSYBOX, "privileged": True}), "payload.privileged"),
    (base("CONTAINER", {"image": BUSYBOX, "kind": "HEARTBEAT"}), "payload.kind"),
    # WEBHOOK payloads
    (base("WEBHOOK", {}), "payload.url"),
    (base("WEBHOOK", {"url": "ftp://example.com"}), "payload.url"),
    (base("WEBHOOK", {"url": "http://example.com", "method": "TRACE"}), "payload.method"),
    (base("WEBHOOK", {"url": "http://example.com", "headers": {"X": 1}}), "payload.headers"),
    (base("WEBHOOK", {"url": "http://example.com", "body": 5}), "payload.body"),
    (base("WEBHOOK", {"url": "http://example.com", "body": [1]}), "payload.body"),
    (base("WEBHOOK", {"url": "http://example.com", "timeout": 301}), "payload.timeout"),
    (base("WEBHOOK", {"url": "http://example.com", "expected_status_codes": []}), "payload.expected_status_codes"),
    (base("WEBHOOK", {"url": "http://example.com", "expected_status_codes": [700]}), "payload.expected_status_codes"),
    (base("WEBHOOK", {"url": "http://example.com", "expected_status_codes": 200}), "payload.expected_status_codes"),
    (base("WEBHOOK", {"url": "http://example.com", "retries": -1}), "payload.retries"),
    (base("WEBHOOK", {"url": "http://example.com", "retries": 11}), "payload.retries"),
    (base("WEBHOOK", {"url": "http://example.com", "secret": 123}), "payload.secret"),
]


@pytest.mark.parametrize(("body", "field"), CASES, ids=[f"{i}-{field}" for i, (_, field) in enumerate(CASES)])
def test_create_rejects(auth_api, body, field):
    assert_400(auth_api.post(URL, body, format="json"), field)
    assert not Workflow.objects.exists()


@pytest.mark.parametrize("raw", ['{"name": "x",', "null", "[]", '"just a string"'])
def test_create_rejects_a_body_that_is_not_an_object(auth_api, raw):
    response = auth_api.generic("POST", URL, raw, content_type="application/json")

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("HEARTBEAT", {}),
        ("HEARTBEAT", {"kind": "HEARTBEAT"}),
        (
            "HEARTBEAT",
            {
                "endpoint": "https://example.com/health",
                "method": "HEAD",
                "expected_status_code": 204,
                "timeout": 5,
                "headers": {"X-Probe": "1"},
            },
        ),
        (
            "CONTAINER",
            {
                "kind": "CONTAINER",
                "image": BUSYBOX,
                "command": ["sh", "-c"],
                "args": ["echo hi"],
                "env": {"API_KEY": "k"},
                "working_dir": "/tmp",
                "timeout": 60,
                "memory_mb": 64,
                "cpus": 0.5,
                "network": "none",
                "volumes": [{"source": "cache", "target": "/cache", "read_only": True}],
            },
        ),
        ("CONTAINER", {"dockerfile": "FROM chronoverse/busybox:latest\nCOPY a.txt /a.txt", "files": {"a.txt": "x"}}),
        (
            "WEBHOOK",
            {
                "url": "http://127.0.0.1:9/hook",
                "method": "PUT",
                "headers": {"A": "b"},
                "body": {"k": [1]},
                "timeout": 3,
                "expected_status_codes": [200, 202],
                "retries": 0,
                "secret": "s3cret",
            },
        ),
        ("WEBHOOK", {"url": "https://example.com", "body": "raw text"}),
    ],
)
def test_create_accepts_every_documented_payload(auth_api, kind, payload):
    response = auth_api.post(URL, base(kind, payload), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["payload"] == payload


def test_a_payload_given_as_a_json_string_is_stored_as_the_object(auth_api):
    payload = {"image": BUSYBOX, "command": ["echo", "hi"]}

    response = auth_api.post(URL, base("CONTAINER", json.dumps(payload)), format="json")

    assert response.status_code == 201
    assert response.json()["payload"] == payload
    assert Workflow.objects.get().payload == payload


def test_host_paths_are_allowed_only_when_the_operator_allow_lists_them(auth_api, settings):
    settings.CONTAINER_HOST_PATH_ALLOWLIST = ["/srv/data"]
    volume = {"source": "/srv/data/reports", "target": "/reports"}

    allowed = auth_api.post(URL, base("CONTAINER", {"image": BUSYBOX, "volumes": [volume]}), format="json")
    refused = auth_api.post(
        URL,
        base("CONTAINER", {"image": BUSYBOX, "volumes": [{"source": "/srv/database", "target": "/x"}]}),
        format="json",
    )

    assert allowed.status_code == 201
    assert_400(refused, "payload.volumes")


PATCH_CASES = [
    ({"kind": "WEBHOOK"}, "kind"),
    ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ({"start_at": "2031-01-01T00:00:00Z"}, "start_at"),
    ({"interval": 0}, "interval"),
    ({"interval": None}, "interval"),
    ({"schedule": None}, "schedule"),
    ({"interval": 5, "schedule": {"cron": "* * * * *"}}, "interval"),
    ({"schedule": {"cron": "bad"}}, "schedule.cron"),
    ({"timezone": "Nowhere/City"}, "timezone"),
    ({"payload": {"endpoint": "ftp://x"}}, "payload.endpoint"),
    ({"payload": "just a string"}, "payload"),
    ({"name": ""}, "name"),
    ({"tags": ["BAD"]}, "tags"),
    ({"max_consecutive_job_failures_allowed": 101}, "max_consecutive_job_failures_allowed"),
    ({"concurrency_policy": "NEVER"}, "concurrency_policy"),
    ({"description": "x" * 2001}, "description"),
    ({"description": None}, "description"),
    ({"metadata": ["not", "an", "object"]}, "metadata"),
    ({"metadata": None}, "metadata"),
    ({"metadata": {"blob": "é" * 8192}}, "metadata"),
    ({}, "non_field_errors"),
]


@pytest.mark.parametrize(("body", "field"), PATCH_CASES, ids=[f"{i}-{f}" for i, (_, f) in enumerate(PATCH_CASES)])
def test_update_rejects(auth_api, body, field):
    workflow_id = auth_api.post(URL, base(), format="json").json()["id"]

    assert_400(auth_api.patch(f"{URL}/{workflow_id}", body, format="json"), field)
