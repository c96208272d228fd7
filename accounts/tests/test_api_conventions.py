"""The conventions every endpoint shares: error format, rate limits, size limit, audit log."""

from __future__ import annotations

import pytest

from accounts.models import AuditLog

pytestmark = pytest.mark.django_db


def test_the_api_is_rate_limited_per_user_with_retry_after(auth_api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "5/day"}

    codes = [auth_api.get("/api/v1/users/me").status_code for _ in range(6)]
    limited = auth_api.get("/api/v1/users/me")

    assert codes == [200] * 5 + [429]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) >= 1


def test_anonymous_requests_are_rate_limited_per_ip(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_anon": "2/day"}
    body = {"email": "nobody@example.com", "password": "whatever1"}

    codes = [api.post("/api/v1/auth/login", body, format="json").status_code for _ in range(3)]

    assert codes == [401, 401, 429]


def test_bodies_over_one_mebibyte_are_413(auth_api):
    body = '{"name": "' + "x" * (1024 * 1024) + '", "scopes": ["read"]}'

    response = auth_api.generic("POST", "/api/v1/tokens", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_unknown_api_paths_are_json_404(auth_api):
    response = auth_api.get("/api/v1/does-not-exist")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_uses_the_error_format(auth_api):
    response = auth_api.put("/api/v1/users/me", {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_audit_log_lists_only_the_callers_actions_newest_first(api, auth_api, user, make_user):
    other = make_user("other@example.com")
    api.post("/api/v1/auth/login", {"email": other.email, "password": "wrong-password"}, format="json")
    auth_api.post("/api/v1/tokens", {"name": "one", "scopes": ["read"]}, format="json")
    auth_api.patch("/api/v1/users/me", {"notification_preference": "NONE"}, format="json")

    entries = auth_api.get("/api/v1/audit-log").json()["audit_logs"]

    assert [e["action"] for e in entries[:2]] == ["user.updated", "token.created"]
    assert {e["action"] for e in entries} <= {"user.updated", "token.created"}
    assert set(entries[0]) == {"id", "action", "target_type", "target_id", "ip", "user_agent", "created_at", "details"}
    assert AuditLog.objects.filter(user=other, action="user.login_failed").count() == 1
