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


# -- the live notifications UX: humane names, the bell's count and menu as the preference says ------


def test_kinds_and_reasons_have_humane_names_in_the_list(client, user):
    notify(user, "JOB_COMPLETED", workflow_name="nightly")
    notify(user, "SYSTEM_ALERT", reason="consecutive_failures_threshold_near", message="2 consecutive failures")
    notify(user, "WORKFLOW_TERMINATED", reason="consecutive_failures", workflow_name="nightly")
    client.force_login(user)

    page = client.get("/notifications/").content.decode()

    assert 'title="JOB_COMPLETED">Job completed</span>' in page
    assert 'title="SYSTEM_ALERT">Near the failure threshold</span>' in page
    assert 'title="WORKFLOW_TERMINATED">Workflow terminated</span>' in page
    assert "Too many consecutive failures" in page
    assert "consecutive_failures_threshold_near" not in page
    assert '<option value="JOB_FAILED" >Job failed</option>' in page
    assert 'id="notification-rows" class="table-wrap" data-live-region data-live-on="notification"' in page


@pytest.mark.parametrize(("preference", "counted"), [("ALL", 3), ("ALERTS", 1), ("NONE", 0)])
def test_the_bell_counts_what_the_preference_pushes(client, user, preference, counted):
    user.notification_preference = preference
    user.save()
    notify(user, "JOB_COMPLETED", workflow_name="nightly", job_id="0" * 8 + "-0000-0000-0000-" + "0" * 12)
    notify(user, "JOB_STARTED")
    alert = notify(user, "JOB_FAILED", workflow_name="nightly", error="boom")
    client.force_login(user)

    page = client.get("/").content.decode()
    bell = client.get("/notifications/bell/").json()

    assert f'id="unread-count" class="count{" zero" if not counted else ""}">{counted}<' in page
    assert bell["count"] == counted
    assert bell["preference"] == preference
    if preference == "ALERTS":
        assert [n["id"] for n in bell["notifications"]] == [str(alert.id)]
    else:  # every kind listed: what ALL counts, and what NONE still lets the menu show
        assert len(bell["notifications"]) == 3
    failed = next(n for n in bell["notifications"] if n["kind"] == "JOB_FAILED")
    assert failed | {"created_at": None} == {
        "id": str(alert.id),
        "kind": "JOB_FAILED",
        "title": "Job failed",
        "text": "nightly: boom",
        "alert": True,
        "workflow_id": None,
        "url": None,
        "read": False,
        "created_at": None,
    }


def test_the_bells_menu_marks_all_read_and_stays_on_its_page(client, user):
    notify(user, "JOB_FAILED")
    client.force_login(user)

    answer = client.post("/notifications/read/", {"all": "1"}, HTTP_ACCEPT="application/json")
    notify(user, "JOB_FAILED")
    back = client.post("/notifications/read/", {"all": "1", "next": "/workflows/?kind=HEARTBEAT"})
    away = client.post("/notifications/read/", {"all": "1", "next": "https://evil.example/"})

    assert answer.json() == {"updated": 1, "count": 0}
    assert back["Location"] == "/workflows/?kind=HEARTBEAT"
    assert away["Location"] == "/notifications/"
    assert client.get("/notifications/bell/").json()["count"] == 0
    assert client.post("/notifications/bell/").status_code == 405
