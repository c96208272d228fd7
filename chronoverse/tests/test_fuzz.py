"""API fuzzing: schemathesis builds requests from the project's own OpenAPI schema, for every
operation, authenticated, against the real server; no answer may be a 5xx, and every answer must
match the schema. Examples are derived deterministically, so a failure repeats."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from jobs import services as job_services
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)
# Logging out would end the token the rest of the run uses (its own tests cover it).
SKIPPED = {("POST", "/api/v1/auth/logout")}


def _fuzz(operation, path_parameters: dict | None, base_url: str, secret: str, answered: Counter) -> None:
    @settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(path_parameters=path_parameters))
    def check(case) -> None:
        response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        answered[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()


def test_every_operation_answers_without_5xx_and_as_documented(live_server_url, user, make_token):
    _, secret = make_token(user)
    spare_token, _ = make_token(user, name="spare")
    # Lists then hold real workflows of every kind (and their notifications and audit entries), so
    # their answers are checked against the schema with something in them.
    workflows = [
        workflow_services.workflow_create(
            user=user, data={"name": kind.lower(), "kind": kind, "payload": payload, **timing}
        )[0]
        for kind, timing, payload in (
            ("HEARTBEAT", {"interval": 5}, {"endpoint": "https://example.com/health", "headers": {"X-A": "1"}}),
            ("WEBHOOK", {"schedule": {"cron": "*/5 * * * *"}}, {"url": "https://example.com/hook", "body": {"a": 1}}),
            ("CONTAINER", {"schedule": {"at": "2031-01-01T00:00:00Z"}}, {"image": "chronoverse/busybox:latest"}),
        )
    ]
    job = job_services.job_run_manually(workflow=workflows[0], user=user)
    # Each operation is tried with made-up ids (404s) and with the ids of real resources, so
    # that details, edits and actions answer from real rows; deletions come last.
    real_ids = {"workflow_id": str(workflows[1].id), "job_id": str(job.id), "token_id": str(spare_token.id)}
    schema = schemathesis.openapi.from_dict(yaml.safe_load(requests.get(f"{live_server_url}/api/schema/").text))
    # A NUL in a string is refused before validation (its own tests cover that): without it,
    # generated bodies get as far as the serializers.
    schema.config.generation.update(allow_x00=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED]
    failures: dict[str, str] = {}
    answered: dict[str, Counter] = defaultdict(Counter)
    passes = [(op, None) for op in operations]
    passes += sorted(
        ((op, {p.name: real_ids[p.name] for p in op.path_parameters}) for op in operations if op.path_parameters),
        key=lambda pair: pair[0].method.upper() == "DELETE",
    )

    for operation, path_parameters in passes:
        name = f"{operation.method.upper()} {operation.path}"
        try:
            _fuzz(operation, path_parameters, live_server_url, secret, answered[name])
        except Exception as failure:  # every operation is tried; all failures are reported together
            failures[name] = str(failure)[:2000]

    assert len(operations) >= 20
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
    # Generated bodies were valid often enough to do real work, not only to be refused.
    assert answered["POST /api/v1/workflows"][201] > 0, answered["POST /api/v1/workflows"]
    assert answered["PATCH /api/v1/workflows/{workflow_id}"][200] > 0, answered["PATCH /api/v1/workflows/{workflow_id}"]
    for detail in (
        "GET /api/v1/workflows/{workflow_id}",
        "GET /api/v1/jobs/{job_id}",
        "GET /api/v1/jobs/{job_id}/logs",
    ):
        assert answered[detail][200] > 0, (detail, answered[detail])
