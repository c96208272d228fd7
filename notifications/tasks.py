from __future__ import annotations

import smtplib
from typing import TypedDict

import requests
from celery import shared_task

from notifications import delivery as delivery_module
from notifications.models import DeliverySettings, Notification


class RetryOptions(TypedDict):
    autoretry_for: tuple[type[BaseException], ...]
    max_retries: int
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool


RETRY: RetryOptions = {
    "autoretry_for": (requests.RequestException, smtplib.SMTPException, OSError),
    "max_retries": 5,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
}


def _load(notification_id: str) -> tuple[Notification | None, DeliverySettings | None]:
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    delivery = DeliverySettings.objects.filter(user_id=notification.user_id).first() if notification else None
    return notification, delivery


@shared_task
def deliver_alert(notification_id: str) -> list[str]:
    """Fan an alert out to the user's channels, one task each, so each retries on its own."""
    notification, delivery = _load(notification_id)
    if notification is None or delivery is None:
        return []
    channels = []
    if delivery.email_alerts:
        deliver_alert_email.delay(notification_id)
        channels.append("email")
    if delivery.webhook_url:
        deliver_alert_webhook.delay(notification_id)
        channels.append("webhook")
    return channels


@shared_task(**RETRY)
def deliver_alert_email(notification_id: str) -> bool:
    notification, delivery = _load(notification_id)
    if notification is None or delivery is None or not delivery.email_alerts:
        return False
    delivery_module.send_email(notification)
    return True


@shared_task(**RETRY)
def deliver_alert_webhook(notification_id: str) -> bool:
    notification, delivery = _load(notification_id)
    if notification is None or delivery is None or not delivery.webhook_url:
        return False
    delivery_module.send_webhook(notification, delivery)
    return True
