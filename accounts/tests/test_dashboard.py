from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from accounts.models import ApiToken, AuditLog, User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_dashboard_pages_send_visitors_to_the_login_page(client):
    response = client.get("/accounts/settings/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_signup_creates_the_account_and_signs_in(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "fresh@example.com", "password": "longenough", "password_again": "longenough"},
    )

    assert response.status_code == 302
    assert client.get("/accounts/settings/").status_code == 200
    assert User.objects.filter(email="fresh@example.com").exists()
    assert not ApiToken.objects.filter(user__email="fresh@example.com").exists()


def test_signup_shows_what_is_wrong(client, make_user):
    make_user("taken@example.com")

    mismatch = client.post(
        "/accounts/signup/", {"email": "a@example.com", "password": "longenough", "password_again": "other-one"}
    )
    taken = client.post(
        "/accounts/signup/", {"email": "taken@example.com", "password": "longenough", "password_again": "longenough"}
    )

    assert "The two passwords differ." in mismatch.content.decode()
    assert taken.status_code == 409
    assert "already exists" in taken.content.decode()


def test_login_and_logout(client, user):
    response = client.post("/accounts/login/?next=/accounts/settings/", {"email": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/"
    assert user.email in client.get("/").content.decode()
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/settings/").status_code == 302
    assert AuditLog.objects.filter(user=user, action__in=["user.login", "user.logout"]).count() == 2


def test_login_refuses_bad_credentials_and_an_offsite_next(client, user):
    wrong = client.post("/accounts/login/", {"email": user.email, "password": "nope-nope"})
    offsite = client.post(
        "/accounts/login/", {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"}
    )

    assert wrong.status_code == 401
    assert "Invalid email or password." in wrong.content.decode()
    assert offsite["Location"] == "/"


def test_dashboard_login_is_throttled(client, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_email": "2/day"}
    for _ in range(2):
        client.post("/accounts/login/", {"email": user.email, "password": "nope-nope"})

    response = client.post("/accounts/login/", {"email": user.email, "password": PASSWORD})

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert client.get("/accounts/settings/").status_code == 302


def test_settings_page_creates_shows_once_and_revokes_tokens(client, user):
    client.force_login(user)

    created = client.post("/accounts/settings/", {"action": "create_token", "name": "laptop", "write": "on"})
    secret = re.search(r'id="new-token">([^<]+)<', created.content.decode()).group(1)
    token = ApiToken.objects.get(user=user, name="laptop")
    revoked = client.post("/accounts/settings/", {"action": "revoke_token", "token_id": str(token.pk)})
    bogus = client.post("/accounts/settings/", {"action": "revoke_token", "token_id": "not-a-uuid"})

    assert secret.startswith(token.prefix)
    assert token.scopes == ["read", "write"]
    assert secret not in client.get("/accounts/settings/").content.decode()
    assert revoked.status_code == 302
    assert bogus.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_settings_page_saves_the_notification_preference(client, user):
    client.force_login(user)

    client.post("/accounts/settings/", {"action": "preference", "notification_preference": "NONE"})

    user.refresh_from_db()
    assert user.notification_preference == "NONE"


def test_the_admin_lists_every_model(admin_client, user, make_token):
    make_token(user)
    for path in ["/admin/accounts/user/", "/admin/accounts/apitoken/", "/admin/accounts/auditlog/", "/admin/"]:
        assert admin_client.get(path).status_code == 200, path
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200


def test_the_admin_revokes_tokens(admin_client, user, make_token):
    token, _ = make_token(user)

    admin_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [str(token.pk)]})

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_demo_account_command_is_idempotent_and_its_login_works(client, settings):
    call_command("ensure_demo_user")
    call_command("ensure_demo_user")

    assert User.objects.filter(email=settings.DEMO_USER_EMAIL).count() == 1
    response = client.post(
        "/accounts/login/", {"email": settings.DEMO_USER_EMAIL, "password": settings.DEMO_USER_PASSWORD}
    )
    assert response.status_code == 302
