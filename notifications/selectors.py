"""Reads of the notifications app."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from accounts.models import User
from chronoverse.filters import filtered
from notifications.models import Notification, NotificationKind


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
