from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import NotificationPreference
from chronoverse.serializers import format_timestamp


class NotificationKind(models.TextChoices):
    WORKFLOW_CREATED = "WORKFLOW_CREATED"
    WORKFLOW_UPDATED = "WORKFLOW_UPDATED"
    WORKFLOW_BUILD_COMPLETED = "WORKFLOW_BUILD_COMPLETED"
    WORKFLOW_BUILD_FAILED = "WORKFLOW_BUILD_FAILED"
    WORKFLOW_TERMINATED = "WORKFLOW_TERMINATED"
    WORKFLOW_PAUSED = "WORKFLOW_PAUSED"
    WORKFLOW_RESUMED = "WORKFLOW_RESUMED"
    JOB_STARTED = "JOB_STARTED"
    JOB_COMPLETED = "JOB_COMPLETED"
    JOB_FAILED = "JOB_FAILED"
    JOB_CANCELED = "JOB_CANCELED"
    SYSTEM_ALERT = "SYSTEM_ALERT"


# What a user with notification_preference=ALERTS still receives live.
ALERT_KINDS = frozenset(
    {
        NotificationKind.JOB_FAILED,
        NotificationKind.WORKFLOW_BUILD_FAILED,
        NotificationKind.WORKFLOW_TERMINATED,
        NotificationKind.SYSTEM_ALERT,
    }
)


def pushed_kinds(preference: str) -> frozenset[str]:
    """The kinds a notification preference pushes live (and the bell counts): ALL every kind,
    ALERTS the alert kinds, NONE none. The one place the rule is written."""
    if preference == NotificationPreference.ALL:
        return frozenset(NotificationKind.values)
    if preference == NotificationPreference.ALERTS:
        return ALERT_KINDS
    return frozenset()


class Notification(models.Model):
    """Something that happened to a user's workflows or jobs. Users may only mark it read."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    payload = models.JSONField(default=dict)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notifications_user_page"),
            models.Index(fields=["user"], name="notifications_user_unread", condition=Q(read_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"

    def as_message(self) -> dict:
        """The notification as it leaves the platform: published live, and posted to alert webhooks."""
        return {
            "id": str(self.id),
            "kind": self.kind,
            "payload": self.payload,
            "created_at": format_timestamp(self.created_at),
        }


class DeliverySettings(models.Model):
    """Where a user's alerts go beyond the browser: email and/or a webhook (both optional)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delivery_settings")
    email_alerts = models.BooleanField(default=False, help_text="Email alerts to the account's address.")
    webhook_url = models.URLField(max_length=2048, blank=True, default="")
    webhook_secret = models.CharField(
        max_length=256, blank=True, default="", help_text="Signs each delivery: X-Chronoverse-Signature: sha256=<HMAC>."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # One row holds one user's settings: "delivery settings" either way (not "settingss").
        verbose_name = "delivery settings"
        verbose_name_plural = "delivery settings"

    def __str__(self) -> str:
        return f"delivery settings of {self.user_id}"

    @property
    def enabled(self) -> bool:
        return self.email_alerts or bool(self.webhook_url)
