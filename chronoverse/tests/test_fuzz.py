"""API fuzzing: schemathesis builds requests from the project's own OpenAPI schema, for every
operation, authenticated, against the real server; no answer may be a 5xx, and every answer must
match the schema. Examples are derived deterministically, so a failure repeats."""

from __future__ import annotations

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)
# Logging out would end the token the rest of the run uses (its own tests cover it).
SKIPPED = {("POST", "/api/v1/auth/logout")}


def test_every_operation_answers_without_5xx_and_as_documented(live_server_url, user, make_token):
    _, secret = make_token(user)
    # Lists then hold real workflows of every kind (and their notifications and audit entries), so
    # their answers are checked against the schema with something in them.
    for kind, timing, payload in (
        ("HEARTBEAT", {"interval": 5}, {"endpoint": "https://example.com/health", "headers": {"X-A": "1"}}),
        ("WEBHOOK", {"schedule": {"cron": "*/5 * * * *"}}, {"url": "https://example.com/hook", "body": {"a": 1}}),
        ("CONTAINER", {"schedule": {"at": "2031-01-01T00:00:00Z"}}, {"image": "chronoverse/busybox:latest"}),
    ):
        workflow_services.workflow_create(
            user=user, data={"name": kind.lower(), "kind": kind, "payload": payload, **timing}
        )
    schema = schemathesis.openapi.from_dict(yaml.safe_load(requests.get(f"{live_server_url}/api/schema/").text))
    failures: dict[str, str] = {}
    exercised = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        exercised += 1

        @settings(
            max_examples=12, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def check(case) -> None:
            response = case.call(base_url=live_server_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as failure:  # every operation is tried; all failures are reported together
            failures[f"{operation.method.upper()} {operation.path}"] = str(failure)[:2000]

    assert exercised >= 20
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
