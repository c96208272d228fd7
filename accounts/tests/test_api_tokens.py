from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, AuditLog

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/tokens"
ME = "/api/v1/users/me"


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_create_shows_the_secret_once_and_stores_only_a_digest(auth_api, user):
    response = auth_api.post(TOKENS, {"name": "deploy", "scopes": ["read"]}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "scopes", "prefix", "created_at", "expires_at", "last_used_at", "token"}
    assert body["token"].startswith(body["prefix"] + "_")
    stored = ApiToken.objects.get(pk=body["id"])
    assert body["token"] not in stored.digest
    assert len(stored.digest) == 64
    listed = auth_api.get(TOKENS).json()["tokens"]
    assert all("token" not in t and "digest" not in t for t in listed)
    assert AuditLog.objects.filter(user=user, action="token.created", target_id=body["id"]).exists()


def test_a_read_token_can_read_but_not_write(user, make_token):
    _, secret = make_token(user, scopes=("read",))
    client = _client(secret)

    assert client.get(ME).status_code == 200
    refused = client.post(TOKENS, {"name": "x", "scopes": ["read"]}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert client.patch(ME, {"notification_preference": "NONE"}, format="json").status_code == 403


def test_revocation_takes_effect_on_the_next_request(auth_api, user, make_token):
    token, secret = make_token(user, name="to-revoke")
    victim = _client(secret)
    assert victim.get(ME).status_code == 200

    assert auth_api.delete(f"{TOKENS}/{token.pk}").status_code == 204

    assert victim.get(ME).status_code == 401
    assert str(token.pk) not in [t["id"] for t in auth_api.get(TOKENS).json()["tokens"]]
    assert AuditLog.objects.filter(action="token.revoked", target_id=str(token.pk)).count() == 1
    # Revoking again is harmless and not audited twice.
    assert auth_api.delete(f"{TOKENS}/{token.pk}").status_code == 204
    assert AuditLog.objects.filter(action="token.revoked", target_id=str(token.pk)).count() == 1


def test_an_expired_token_is_refused(user, make_token):
    token, secret = make_token(user, expires_at=timezone.now() + timedelta(minutes=5))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _client(secret).get(ME)

    assert response.status_code == 401


def test_using_a_token_records_when_it_was_last_used(user, make_token):
    token, secret = make_token(user)
    assert token.last_used_at is None

    _client(secret).get(ME)

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_another_users_token_cannot_be_revoked(auth_api, make_user, make_token):
    stranger_token, _ = make_token(make_user())

    response = auth_api.delete(f"{TOKENS}/{stranger_token.pk}")

    assert response.status_code == 404
    stranger_token.refresh_from_db()
    assert stranger_token.revoked_at is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["admin"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": "read"}, "scopes"),
        ({"name": "x", "scopes": ["write"]}, "scopes"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": 5, "scopes": ["read"]}, "name"),
        ({"name": "x" * 101, "scopes": ["read"]}, "name"),
        ({"scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read"], "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_create_rejects_bad_input(auth_api, body, field):
    response = auth_api.post(TOKENS, body, format="json")

    assert response.status_code == 400
    named = response.json()["error"]["fields"]
    assert any(name == field or name.startswith(f"{field}.") for name in named), named


def test_list_pages_through_tokens_newest_first_without_gaps(auth_api, user, make_token):
    created = [make_token(user, name=f"t{i}")[0] for i in range(7)]
    expected = [
        str(t.pk)
        for t in sorted([*ApiToken.objects.filter(user=user)], key=lambda t: (t.created_at, t.pk), reverse=True)
    ]

    seen, cursor, pages = [], None, 0
    while True:
        response = auth_api.get(TOKENS, {"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        seen += [t["id"] for t in response.json()["tokens"]]
        cursor, pages = response.json()["cursor"], pages + 1
        if cursor is None:
            break

    assert len(created) == 7
    assert seen == expected
    assert pages == 3


@pytest.mark.parametrize(
    "params", [{"cursor": "garbage!"}, {"cursor": "WyJ4Il0"}, {"limit": 0}, {"limit": 51}, {"limit": "ten"}]
)
def test_list_rejects_malformed_paging(auth_api, params):
    response = auth_api.get(TOKENS, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"


def test_tokens_of_other_users_are_not_listed(auth_api, make_user, make_token):
    make_token(make_user(), name="theirs")

    names = [t["name"] for t in auth_api.get(TOKENS).json()["tokens"]]

    assert "theirs" not in names
