"""Reads of the notifications app."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from accounts.models import NotificationPreference, User
from chronoverse.filters import filtered
from notifications.models import Notification, NotificationKind, pushed_kinds


class NotificationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=NotificationKind.choices)
    unread = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_unread")

    class Meta:
        model = Notification
        fields: list[str] = []

    def filter_unread(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(read_at__isnull=value == "true")


def notification_list(*, user: User, filters=None) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(user=user)
    return queryset if filters is None else filtered(NotificationFilter, filters, queryset)


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def of_bell_kinds(queryset: QuerySet, preference: str) -> QuerySet:
    """The notifications the bell counts and the toasts show: what the preference pushes live
    (notifications.models.pushed_kinds)."""
    if preference == NotificationPreference.ALL:
        return queryset  # every kind: no filter to spell out
    kinds = pushed_kinds(preference)
    return queryset.filter(kind__in=kinds) if kinds else queryset.none()


def notification_bell_count(*, user: User) -> int:
    """The bell's count: the unread notifications of the kinds the user's preference pushes (no
    query at all when it pushes none)."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    return of_bell_kinds(unread, user.notification_preference).count()


def notification_bell_latest(*, user: User, limit: int = 5) -> list[Notification]:
    """The latest few for the bell's menu, of the kinds it counts (all kinds when it counts none,
    so that the menu is never empty for want of a preference)."""
    queryset = Notification.objects.filter(user=user)
    if user.notification_preference != NotificationPreference.NONE:
        queryset = of_bell_kinds(queryset, user.notification_preference)
    return list(queryset.order_by("-created_at", "-id")[:limit])
