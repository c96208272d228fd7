"""GET/PATCH /api/v1/notifications/delivery: the alert delivery the Settings page configures, from the API."""

from __future__ import annotations

from notifications.models import DeliverySettings

URL = "/api/v1/notifications/delivery"


def test_nothing_set_reads_as_off(auth_api):
    response = auth_api.get(URL)
    assert response.status_code == 200
    off = {"email_alerts": False, "webhook_url": "", "webhook_secret_set": False, "updated_at": None}
    assert response.json() == off


def test_patch_sets_what_it_names_and_keeps_the_rest(auth_api, user):
    first = auth_api.patch(
        URL, {"webhook_url": "https://alerts.example.com/hook", "webhook_secret": "s3cret"}, format="json"
    )
    assert first.status_code == 200, first.content
    assert first.json()["webhook_url"] == "https://alerts.example.com/hook"
    assert first.json()["webhook_secret_set"] is True
    assert "webhook_secret" not in first.json()  # written, never read back

    second = auth_api.patch(URL, {"email_alerts": True}, format="json")
    body = second.json()
    assert body["email_alerts"] is True
    assert body["webhook_url"] == "https://alerts.example.com/hook"
    stored = DeliverySettings.objects.get(user=user)
    assert (stored.email_alerts, stored.webhook_secret) == (True, "s3cret")

    off = auth_api.patch(URL, {"webhook_url": "", "webhook_secret": ""}, format="json").json()
    assert (off["webhook_url"], off["webhook_secret_set"], off["email_alerts"]) == ("", False, True)


def test_bad_input_is_a_400_naming_the_field(auth_api, user):
    for body, field in (
        ({"webhook_url": "ftp://example.com/x"}, "webhook_url"),
        ({"webhook_url": "not a url"}, "webhook_url"),
        ({"email_alerts": "yes"}, "email_alerts"),
        ({"webhook_secret": 5}, "webhook_secret"),
        ({"email": True}, "email"),
    ):
        response = auth_api.patch(URL, body, format="json")
        assert response.status_code == 400, body
        assert field in str(response.json()), response.json()
    assert not DeliverySettings.objects.filter(user=user).exists()


def test_a_read_token_reads_but_cannot_change_it(api, user, make_token):
    _, secret = make_token(user, scopes=("read",))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get(URL).status_code == 200
    assert api.patch(URL, {"email_alerts": True}, format="json").status_code == 403
    assert not DeliverySettings.objects.filter(user=user).exists()


def test_each_user_sees_only_their_own(auth_api, make_user, make_token, api):
    auth_api.patch(URL, {"email_alerts": True}, format="json")
    other = make_user()
    _, secret = make_token(other)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get(URL).json()["email_alerts"] is False
