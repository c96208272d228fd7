from __future__ import annotations

from django.http import HttpRequest

from notifications.selectors import notification_unread_count


def unread_notifications(request: HttpRequest) -> dict:
    """The bell's count on every dashboard page (one COUNT on a partial index)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notification_unread_count(user=user)}
