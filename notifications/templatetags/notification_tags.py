"""Humane names of notification kinds and reasons in templates (notifications.labels)."""

from __future__ import annotations

from django import template

from notifications import labels

register = template.Library()


@register.filter
def kind_title(kind: str) -> str:
    return labels.kind_title(kind)


@register.filter
def reason_label(reason: str) -> str:
    return labels.reason_label(str(reason))


@register.filter
def notification_title(notification) -> str:
    return labels.notification_title(notification.kind, notification.payload or {})


@register.filter
def is_alert(kind: str) -> bool:
    return labels.is_alert(kind)
