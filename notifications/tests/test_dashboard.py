from __future__ import annotations

import pytest

from notifications.models import DeliverySettings, Notification

pytestmark = pytest.mark.django_db


def notify(user, kind="JOB_FAILED", **payload) -> Notification:
    return Notification.objects.create(user=user, kind=kind, payload=payload)


def test_the_bell_shows_the_unread_count_on_every_page(client, user):
    notify(user)
    notify(user)
    client.force_login(user)

    page = client.get("/").content.decode()

    assert 'id="unread-count" class="count">2<' in page
    assert "chronoverse/notifications.js" in page


def test_the_list_filters_and_marks_read_one_and_all(client, user, make_user):
    first = notify(user, "JOB_FAILED", error="boom")
    notify(user, "JOB_COMPLETED")
    notify(make_user(), "JOB_FAILED", error="not mine")
    client.force_login(user)

    listing = client.get("/notifications/", {"kind": "JOB_FAILED"}).content.decode()
    assert "boom" in listing
    assert "not mine" not in listing
    assert "JOB_COMPLETED</span>" not in listing

    client.post("/notifications/read/", {"ids": [str(first.id)]})
    first.refresh_from_db()
    assert first.read_at is not None
    assert Notification.objects.filter(user=user, read_at__isnull=True).count() == 1

    client.post("/notifications/read/", {"all": "1"})
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    assert Notification.objects.filter(read_at__isnull=True).count() == 1  # the other user's


def test_bad_filters_and_bad_ids_are_messages_not_errors(client, user):
    client.force_login(user)

    assert client.get("/notifications/", {"kind": "NOPE"}).status_code == 400
    response = client.post("/notifications/read/", {"ids": ["not-a-uuid"]}, follow=True)
    assert "Choose 1 to 100 notifications." in response.content.decode()


def test_the_settings_page_saves_alert_delivery(client, user):
    client.force_login(user)

    client.post(
        "/accounts/settings/",
        {
            "action": "delivery",
            "email_alerts": "on",
            "webhook_url": "https://hooks.example.com/x",
            "webhook_secret": "s",
        },
    )

    delivery = DeliverySettings.objects.get(user=user)
    assert delivery.email_alerts
    assert delivery.webhook_url == "https://hooks.example.com/x"
    bad = client.post("/accounts/settings/", {"action": "delivery", "webhook_url": "not a url"})
    assert "Enter a valid URL." in bad.content.decode()


def test_notification_pages_need_a_login(client):
    assert client.get("/notifications/").status_code == 302
