from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications"


def many(user, count: int, kind: str = "JOB_COMPLETED") -> list[Notification]:
    base = timezone.now()
    # Every tenth shares its timestamp with a neighbour, so the id tie-breaker is exercised too.
    return Notification.objects.bulk_create(
        Notification(user=user, kind=kind, payload={"n": i}, created_at=base - timedelta(milliseconds=i - i % 10 // 9))
        for i in range(count)
    )


def test_pagination_over_500_notifications_has_no_gaps_or_duplicates(auth_api, user):
    created = many(user, 500)

    seen, cursor, pages = [], None, 0
    while True:
        body = auth_api.get(URL, {"cursor": cursor} if cursor else {}).json()
        seen += [n["id"] for n in body["notifications"]]
        pages += 1
        if (cursor := body["cursor"]) is None:
            break

    assert pages == 10
    assert len(seen) == len(set(seen)) == 500
    assert set(seen) == {str(n.id) for n in created}
    expected = [str(pk) for pk in Notification.objects.order_by("-created_at", "-id").values_list("id", flat=True)]
    assert seen == expected


def test_list_shape_and_filters(auth_api, user, make_user):
    many(user, 3, "JOB_COMPLETED")
    failed = many(user, 2, "JOB_FAILED")
    many(make_user(), 4, "JOB_FAILED")
    Notification.objects.filter(pk=failed[0].pk).update(read_at=timezone.now())

    body = auth_api.get(URL).json()
    assert set(body["notifications"][0]) == {"id", "kind", "payload", "read_at", "created_at", "updated_at"}
    assert len(body["notifications"]) == 5
    assert len(auth_api.get(URL, {"kind": "JOB_FAILED"}).json()["notifications"]) == 2
    assert len(auth_api.get(URL, {"unread": "true"}).json()["notifications"]) == 4
    assert len(auth_api.get(URL, {"kind": "JOB_FAILED", "unread": "true"}).json()["notifications"]) == 1
    assert auth_api.get(URL, {"kind": "NOPE"}).status_code == 400
    assert auth_api.get(URL, {"unread": "maybe"}).status_code == 400


def test_mark_read_only_touches_the_callers_notifications_and_is_idempotent(auth_api, user, make_user):
    mine = many(user, 3)
    theirs = many(make_user(), 2)
    ids = [str(n.id) for n in mine[:2]] + [str(n.id) for n in theirs] + [str(uuid.uuid4())]

    first = auth_api.patch(f"{URL}/read", {"ids": ids}, format="json")
    again = auth_api.patch(f"{URL}/read", {"ids": ids}, format="json")

    assert first.status_code == 200
    assert first.json() == {"updated": 2}
    assert again.json() == {"updated": 0}
    assert Notification.objects.filter(read_at__isnull=False).count() == 2
    assert auth_api.get(f"{URL}/unread-count").json() == {"count": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"ids": []},
        {"ids": [str(uuid.uuid4()) for _ in range(101)]},
        {"ids": ["x"]},
        {"ids": "all"},
        {},
        {"ids": [1]},
        {"ids": [str(uuid.uuid4())], "extra": 1},
    ],
)
def test_mark_read_rejects_bad_bodies(auth_api, body):
    response = auth_api.patch(f"{URL}/read", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"


def test_a_hundred_ids_are_accepted(auth_api, user):
    mine = many(user, 100)

    response = auth_api.patch(f"{URL}/read", {"ids": [str(n.id) for n in mine]}, format="json")

    assert response.json() == {"updated": 100}


def test_notifications_are_read_only_through_the_api(auth_api, user):
    notification = many(user, 1)[0]

    assert auth_api.delete(f"{URL}/read").status_code == 405
    assert auth_api.post(URL, {"kind": "SYSTEM_ALERT", "payload": {}}, format="json").status_code == 405
    notification.refresh_from_db()
    assert notification.kind == "JOB_COMPLETED"


def test_the_admin_searches_notifications_and_keeps_payloads_read_only(admin_client, user, make_user):
    notification = many(user, 1, "SYSTEM_ALERT")[0]
    theirs = many(make_user("someone-else@example.com"), 1, "SYSTEM_ALERT")[0]

    listing = admin_client.get("/admin/notifications/notification/", {"q": user.email})
    page = admin_client.get(f"/admin/notifications/notification/{notification.pk}/change/")

    assert listing.status_code == 200
    body = listing.content.decode()
    # The search finds this user's notification and leaves out another user's of the same kind.
    assert f"/admin/notifications/notification/{notification.pk}/change/" in body
    assert f"/admin/notifications/notification/{theirs.pk}/change/" not in body
    assert 'name="payload"' not in page.content.decode()


def test_mark_all_read_touches_only_the_callers_unread_notifications(auth_api, user, make_user):
    mine, theirs = many(user, 3), many(make_user(), 2)
    Notification.objects.filter(pk=mine[0].pk).update(read_at=timezone.now() - timedelta(days=1))

    first = auth_api.post("/api/v1/notifications/read-all")
    again = auth_api.post("/api/v1/notifications/read-all")

    assert (first.status_code, first.json(), again.json()) == (200, {"updated": 2}, {"updated": 0})
    assert auth_api.get("/api/v1/notifications/unread-count").json() == {"count": 0}
    assert not Notification.objects.filter(pk__in=[n.pk for n in theirs], read_at__isnull=False).exists()
