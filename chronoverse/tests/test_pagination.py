from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from chronoverse.errors import ServiceError
from chronoverse.pagination import keyset_page

pytestmark = pytest.mark.django_db


def test_walking_120_rows_with_shared_timestamps_has_no_duplicates_or_gaps(user):
    base = timezone.now()
    # Groups of rows share a created_at, so the id tie-breaker is what keeps pages apart.
    AuditLog.objects.bulk_create(
        AuditLog(user=user, action="test", created_at=base - timedelta(seconds=i // 7)) for i in range(120)
    )
    expected = list(AuditLog.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    seen, cursor = [], None
    for _ in range(10):
        page = keyset_page(AuditLog.objects.all(), {"cursor": cursor} if cursor else {})
        seen += [row.id for row in page.items]
        cursor = page.cursor
        if cursor is None:
            break

    assert seen == expected
    assert len(seen) == 120


def test_rows_added_between_pages_do_not_shift_later_pages(user):
    AuditLog.objects.bulk_create(AuditLog(user=user, action="old") for _ in range(60))
    first = keyset_page(AuditLog.objects.all(), {})
    AuditLog.objects.create(user=user, action="new")

    second = keyset_page(AuditLog.objects.all(), {"cursor": first.cursor})

    assert len(first.items) == 50
    assert len(second.items) == 10
    assert not {r.id for r in first.items} & {r.id for r in second.items}


def test_ascending_order_pages_forward():
    from accounts.models import User

    for i in range(5):
        User.objects.create_user(email=f"asc{i}@example.com", password="x" * 8)
    page = keyset_page(User.objects.all(), {"limit": "2"}, ordering=("email", "id"))
    rest = keyset_page(User.objects.all(), {"limit": "50", "cursor": page.cursor}, ordering=("email", "id"))

    assert [u.email for u in page.items + rest.items] == [f"asc{i}@example.com" for i in range(5)]


def test_a_cursor_with_values_of_the_wrong_type_is_refused():
    import base64

    cursor = base64.urlsafe_b64encode(b'["not-a-date", "not-a-uuid"]').decode()

    with pytest.raises(ServiceError) as error:
        keyset_page(AuditLog.objects.all(), {"cursor": cursor})
    assert error.value.fields == {"cursor": ["Malformed cursor."]}
