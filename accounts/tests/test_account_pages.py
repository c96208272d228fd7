"""The account pages of the dashboard: password change and reset, the display timezone, the audit
log's pages, and the landing page a visitor sees."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import AuditLog, User
from accounts.services import RequestContext, audit_record, token_create
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_visitor_gets_the_landing_page_not_a_redirect(client):
    response = client.get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Chronoverse runs your scheduled work" in page
    assert 'href="/accounts/signup/"' in page
    assert 'href="/accounts/login/"' in page


def test_the_login_page_links_to_the_password_reset(client):
    assert 'href="/accounts/password/reset/"' in client.get("/accounts/login/").content.decode()


def test_a_user_changes_their_password_and_stays_signed_in(client, user):
    client.force_login(user)
    assert 'href="/accounts/password/change/"' in client.get("/accounts/settings/").content.decode()

    wrong = client.post(
        "/accounts/password/change/",
        {"old_password": "not-it", "new_password1": "brand-new-secret", "new_password2": "brand-new-secret"},
    )
    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": "brand-new-secret", "new_password2": "brand-new-secret"},
    )

    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/"
    user.refresh_from_db()
    assert user.check_password("brand-new-secret")
    assert client.get("/accounts/settings/").status_code == 200  # this session survives the change
    assert AuditLog.objects.filter(user=user, action="user.password_changed").count() == 1


def test_a_new_password_follows_the_sign_up_rules(client, user):
    client.force_login(user)

    short = client.post(
        "/accounts/password/change/", {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"}
    )
    long = "x" * 129
    too_long = client.post(
        "/accounts/password/change/", {"old_password": PASSWORD, "new_password1": long, "new_password2": long}
    )

    assert "at least 8 characters" in short.content.decode()
    assert "at most 128 characters" in too_long.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_forgotten_password_is_reset_through_a_mailed_link(client, user):
    response = client.post("/accounts/password/reset/", {"email": "OWNER@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == "Reset your Chronoverse password"
    link = re.search(r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert link is not None

    # Django's confirm view swaps the token for a session-held one and shows the form there.
    form_page = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "reset-secret-1", "new_password2": "reset-secret-1"}
    )

    assert done.status_code == 302
    assert done["Location"] == "/accounts/password/reset/done/"
    user.refresh_from_db()
    assert user.check_password("reset-secret-1")
    assert client.post("/accounts/login/", {"email": user.email, "password": "reset-secret-1"}).status_code == 302
    actions = set(AuditLog.objects.filter(user=user).values_list("action", flat=True))
    assert {"user.password_reset_requested", "user.password_reset"} <= actions
    # The link works once.
    assert "This link has expired" in client.get(link.group(1), follow=True).content.decode()


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_reset_requests_are_rate_limited_per_address(client, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_email": "2/hour"}
    for _ in range(2):
        client.post("/accounts/password/reset/", {"email": user.email})

    response = client.post("/accounts/password/reset/", {"email": user.email})

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert len(mail.outbox) == 2


def test_the_display_timezone_is_saved_and_pages_render_in_it(client, user):
    token, _ = token_create(user=user, name="ci", scopes=["read"])
    token.created_at = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
    token.save(update_fields=["created_at"])
    client.force_login(user)

    response = client.post("/accounts/settings/timezone/", {"display_timezone": "Asia/Tokyo"})
    page = client.get("/accounts/settings/").content.decode()

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.display_timezone == "Asia/Tokyo"
    assert '<body data-timezone="Asia/Tokyo">' in page
    assert "2030-01-15 21:00 JST" in page  # 12:00 UTC, rendered in the chosen zone with its name
    assert '<option value="Asia/Tokyo" selected>' in page
    assert AuditLog.objects.filter(user=user, action="user.updated").exists()


def test_without_a_setting_pages_follow_the_browsers_zone_cookie(client, user):
    client.force_login(user)
    client.cookies["cv_tz"] = "America/New_York"
    assert '<body data-timezone="America/New_York">' in client.get("/").content.decode()

    client.cookies["cv_tz"] = "Not/AZone"
    assert '<body data-timezone="UTC">' in client.get("/").content.decode()

    user.display_timezone = "Europe/Berlin"
    user.save()
    client.cookies["cv_tz"] = "America/New_York"
    assert '<body data-timezone="Europe/Berlin">' in client.get("/").content.decode()


def test_an_unknown_timezone_is_refused_and_empty_means_the_browser(client, user):
    user.display_timezone = "Europe/Berlin"
    user.save()
    client.force_login(user)

    client.post("/accounts/settings/timezone/", {"display_timezone": "Mars/Olympus"})
    user.refresh_from_db()
    assert user.display_timezone == "Europe/Berlin"

    client.post("/accounts/settings/timezone/", {"display_timezone": ""})
    user.refresh_from_db()
    assert user.display_timezone == ""


def test_the_api_keeps_utc_and_its_user_shape(auth_api, user):
    user.display_timezone = "Asia/Tokyo"
    user.save()
    auth_api.cookies["cv_tz"] = "Asia/Tokyo"

    body = auth_api.get("/api/v1/users/me").json()

    assert set(body) == {"id", "email", "notification_preference", "created_at", "updated_at"}
    assert body["created_at"].endswith("Z")


def test_the_audit_log_pages_through_every_entry(client, user, make_user):
    context = RequestContext(ip="203.0.113.9", user_agent="curl/8")
    for _ in range(55):
        audit_record(user=user, action="user.login", context=context, target=user)
    audit_record(user=make_user(), action="user.login", context=context)
    client.force_login(user)
    assert 'href="/accounts/audit/"' in client.get("/accounts/settings/").content.decode()

    first = client.get("/accounts/audit/")
    next_link = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode())
    assert next_link is not None
    second = client.get("/accounts/audit/?" + next_link.group(1).replace("&amp;", "&"))

    assert first.content.decode().count("<td>Logged in</td>") == 50
    assert second.content.decode().count("<td>Logged in</td>") == 5
    assert 'rel="next"' not in second.content.decode()
    assert "203.0.113.9" in first.content.decode()


def test_an_empty_audit_log_and_token_list_say_what_to_do(client, make_user):
    user = make_user()
    client.force_login(user)
    AuditLog.objects.filter(user=user).delete()

    audit = client.get("/accounts/audit/").content.decode()
    settings_page = client.get("/accounts/settings/").content.decode()

    assert "Nothing recorded yet" in audit
    assert "No API tokens yet. Create one above" in settings_page


def test_a_bad_cursor_is_a_message_not_an_error_page(client, user):
    client.force_login(user)

    response = client.get("/accounts/audit/?cursor=nonsense")

    assert response.status_code == 400
    assert "Malformed cursor." in response.content.decode()


def test_a_new_token_is_shown_once_with_a_copy_button(client, user):
    client.force_login(user)

    page = client.post("/accounts/settings/", {"action": "create_token", "name": "ci"}).content.decode()

    assert 'id="new-token"' in page
    assert 'data-copy-target="#new-token"' in page
    assert 'data-copy-target="#new-token"' not in client.get("/accounts/settings/").content.decode()


def test_times_on_the_audit_page_are_in_the_users_zone(client, user):
    user.display_timezone = "America/Sao_Paulo"
    user.save()
    entry = audit_record(user=user, action="token.created")
    AuditLog.objects.filter(pk=entry.pk).update(created_at=datetime(2031, 6, 1, 3, 30, tzinfo=UTC))
    client.force_login(user)

    page = client.get("/accounts/audit/").content.decode()

    assert "2031-06-01 00:30:00 -03" in page
    assert "API token created" in page
    assert timezone.get_current_timezone_name() == "UTC"  # nothing leaks past the request


def test_users_are_created_with_no_display_timezone(make_user):
    assert User.objects.get(pk=make_user().pk).display_timezone == ""
