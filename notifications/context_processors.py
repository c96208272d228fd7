from __future__ import annotations

from django.http import HttpRequest

from notifications.selectors import notification_bell_count


def unread_notifications(request: HttpRequest) -> dict:
    """The bell's count on every dashboard page (one COUNT on a partial index): the unread
    notifications of the kinds the user's preference pushes live, as the toasts show them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notification_bell_count(user=user)}
