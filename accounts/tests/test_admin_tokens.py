"""An operator creates an API token for a user from the admin; the secret is shown once."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, AuditLog

pytestmark = pytest.mark.django_db

ADD = "/admin/accounts/apitoken/add/"


def issue(admin_client, **fields):
    return admin_client.post(ADD, {"email": "owner@example.com", "name": "agent", "scopes": "read", **fields})


def test_the_add_page_is_prefilled_from_the_users_page(admin_client, user):
    user_page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    page = admin_client.get(ADD, {"email": user.email})

    assert f"{ADD}?email=owner%40example.com" in user_page
    assert page.status_code == 200
    assert page.context["form"].initial["email"] == user.email


def test_an_operator_creates_a_token_whose_secret_is_shown_once(admin_client, admin_user, user):
    response = issue(admin_client, name="backup agent", scopes="read,write")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=user)
    secret = response.context["secret"]
    assert f'<code id="token-secret">{secret}</code>' in response.content.decode()
    assert token.name == "backup agent"
    assert token.scopes == ["read", "write"]
    assert token.expires_at is None
    # Only a digest is stored, and the secret is nowhere else: not in the session, not on later pages.
    assert secret.startswith(token.prefix)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in session.session_data for session in Session.objects.all())
    for page in (f"/admin/accounts/apitoken/{token.pk}/change/", "/admin/accounts/apitoken/", ADD):
        assert secret not in admin_client.get(page).content.decode()
    assert LogEntry.objects.get(object_id=str(token.pk)).action_flag == ADDITION
    audit = AuditLog.objects.get(user=user, action="token.created")
    assert audit.details["issued_by"] == admin_user.email
    assert audit.target_id == str(token.pk)

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/users/me").json()["email"] == user.email
    created = api.post(
        "/api/v1/workflows", {"name": "w", "kind": "HEARTBEAT", "payload": {}, "interval": 5}, format="json"
    )
    assert created.status_code == 201


def test_a_read_token_from_the_admin_cannot_write_and_expires(admin_client, user):
    expires_at = (timezone.now() + timedelta(days=30)).replace(second=0, microsecond=0)

    response = issue(admin_client, expires_at=expires_at.strftime("%Y-%m-%dT%H:%M"))

    token = ApiToken.objects.get(user=user)
    assert token.scopes == ["read"]
    assert token.expires_at == expires_at
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.context['secret']}")
    assert api.get("/api/v1/users/me").status_code == 200
    refused = api.post(
        "/api/v1/workflows", {"name": "w", "kind": "HEARTBEAT", "payload": {}, "interval": 5}, format="json"
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "nobody@example.com"}, "email", "No user has this email."),
        ({"email": "not an email"}, "email", "Enter a valid email address."),
        ({"name": ""}, "name", "This field is required."),
        ({"name": "n" * 101}, "name", "at most 100 characters"),
        ({"scopes": "write"}, "scopes", "Select a valid choice."),
        ({"expires_at": "2001-01-01T00:00"}, "expires_at", "Must be in the future."),
    ],
)
def test_bad_input_is_shown_on_its_field_and_creates_nothing(admin_client, user, fields, field, message):
    response = issue(admin_client, **fields)

    assert response.status_code == 200
    assert "secret" not in response.context
    assert any(message in error for error in response.context["form"].errors[field])
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token(admin_client, make_user):
    make_user("gone@example.com", is_active=False)

    response = issue(admin_client, email="gone@example.com")

    assert "inactive" in response.context["form"].errors["email"][0]
    assert not ApiToken.objects.exists()


def test_only_operators_allowed_to_add_tokens_may(client, make_user, user):
    staff = make_user("staff@example.com", is_staff=True)
    client.force_login(staff)

    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"email": user.email, "name": "x", "scopes": "read"}).status_code == 403
    assert not ApiToken.objects.exists()
