from __future__ import annotations

import pytest

from accounts.models import ApiToken, AuditLog, User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"


def _post_raw(api, path: str, body: str):
    return api.generic("POST", path, body, content_type="application/json")


def test_register_creates_the_user_and_returns_a_working_token(api):
    response = api.post(REGISTER, {"email": "New@Example.com", "password": "longenough"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body["user"]) == {"id", "email", "notification_preference", "created_at", "updated_at"}
    assert body["user"]["email"] == "new@example.com"
    assert body["user"]["notification_preference"] == "ALL"
    assert body["user"]["created_at"].endswith("Z")
    assert len(body["user"]["created_at"]) == 24
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert api.get(ME).json()["email"] == "new@example.com"
    assert User.objects.get(email="new@example.com").password.startswith("argon2")


def test_register_refuses_an_email_already_registered_whatever_its_case(api, make_user):
    make_user("taken@example.com")

    response = api.post(REGISTER, {"email": "TAKEN@example.com", "password": "longenough"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129}, "password"),
        ({"email": "a@example.com", "password": 12345678}, "password"),
        ({"email": "a@example.com", "password": None}, "password"),
        ({"email": "not-an-email", "password": "longenough"}, "email"),
        ({"email": 42, "password": "longenough"}, "email"),
        ({"password": "longenough"}, "email"),
        ({"email": "a@example.com", "password": "longenough", "admin": True}, "admin"),
    ],
)
def test_register_rejects_bad_fields_with_400_naming_the_field(api, body, field):
    response = api.post(REGISTER, body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert field in error["fields"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"email": "a@example.com",',
        "not json",
        '"just a string"',
        "null",
        "[1, 2]",
        "42",
        "[" * 5000 + "]" * 5000,
        '{"email": "a\\u0000@example.com", "password": "longenough"}',
        '{"email\\u0000": 1}',
    ],
)
def test_malformed_or_non_object_json_is_400_not_500(api, raw):
    response = _post_raw(api, REGISTER, raw)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"


def test_a_body_that_is_not_json_is_refused_with_the_error_format(api):
    response = api.post(REGISTER, "email=a@example.com", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"


def test_login_returns_an_expiring_token(api, user):
    response = api.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["expires_at"].endswith("Z")
    token = ApiToken.objects.get(user=user, name="login")
    assert token.expires_at is not None
    assert token.scopes == ["read", "write"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert api.get(ME).status_code == 200
    assert AuditLog.objects.filter(user=user, action="user.login").count() == 1


@pytest.mark.parametrize(
    ("email", "password"), [("owner@example.com", "wrong-password"), ("nobody@example.com", PASSWORD)]
)
def test_login_with_bad_credentials_is_401_and_audited(api, user, email, password):
    response = api.post(LOGIN, {"email": email, "password": password}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert AuditLog.objects.filter(action="user.login_failed", details__email=email).count() == 1


def test_login_is_throttled_per_email(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_email": "3/day"}

    codes = [
        api.post(LOGIN, {"email": user.email, "password": "wrong-one"}, format="json").status_code for _ in range(3)
    ]
    blocked = api.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    other = api.post(LOGIN, {"email": "someone-else@example.com", "password": "whatever1"}, format="json")

    assert codes == [401, 401, 401]
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert int(blocked["Retry-After"]) >= 1
    assert other.status_code == 401


def test_login_is_throttled_per_ip(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "3/day"}

    codes = [
        api.post(LOGIN, {"email": f"u{i}@example.com", "password": "whatever1"}, format="json").status_code
        for i in range(4)
    ]

    assert codes == [401, 401, 401, 429]


def test_logout_revokes_the_presented_token_at_once(api, user, make_token):
    _, secret = make_token(user)
    _, other_secret = make_token(user, name="other")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert api.post(LOGOUT).status_code == 204

    assert api.get(ME).status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other_secret}")
    assert api.get(ME).status_code == 200


def test_a_read_only_token_can_log_itself_out_but_write_nothing_else(api, user, make_token):
    _, secret = make_token(user, scopes=("read",))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.patch(ME, {"notification_preference": "NONE"}, format="json").status_code == 403

    assert api.post(LOGOUT).status_code == 204

    assert api.get(ME).status_code == 401


def test_me_reads_and_updates_the_notification_preference(auth_api, user):
    assert auth_api.get(ME).json()["notification_preference"] == "ALL"

    response = auth_api.patch(ME, {"notification_preference": "ALERTS"}, format="json")

    assert response.status_code == 200
    assert response.json()["notification_preference"] == "ALERTS"
    user.refresh_from_db()
    assert user.notification_preference == "ALERTS"
    assert AuditLog.objects.filter(user=user, action="user.updated").exists()


@pytest.mark.parametrize(
    "body", [{"notification_preference": "SOMETIMES"}, {"notification_preference": 1}, {"email": "x@example.com"}, {}]
)
def test_me_rejects_bad_updates(auth_api, body):
    response = auth_api.patch(ME, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer cv_00000000_nope", "Bearer not-a-token", "Token abc", "Bearer a b"]
)
def test_missing_or_wrong_credentials_are_401(api, user, header):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_session_writes_need_the_csrf_token(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    refused = client.patch(ME, {"notification_preference": "NONE"}, content_type="application/json")
    client.get("/accounts/settings/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.patch(
        ME, {"notification_preference": "NONE"}, content_type="application/json", headers={"X-CSRFToken": csrf}
    )

    assert client.get(ME).status_code == 200
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert accepted.status_code == 200


def test_a_user_past_their_limit_is_refused_before_any_database_work(
    api, user, make_token, settings, django_assert_num_queries
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "2/min"}
    _, secret = make_token(user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert [api.get(ME).status_code for _ in range(3)] == [200, 200, 429]

    with django_assert_num_queries(0):
        refused = api.get(ME)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    # Another user of the same process is not affected.
    _, other = make_token(make_user_for_limit(user))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other}")
    assert api.get(ME).status_code == 200


def make_user_for_limit(user):
    from accounts.models import User

    return User.objects.create_user(email=f"other-{user.pk}@example.com", password="another-password")
