from __future__ import annotations

import smtplib

import requests
from celery import shared_task

from notifications import delivery
from notifications.models import DeliverySettings, Notification


@shared_task(
    bind=True,
    max_retries=5,
    autoretry_for=(requests.RequestException, smtplib.SMTPException, OSError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
)
def deliver_alert(self, notification_id: str) -> list[str]:
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    settings_ = DeliverySettings.objects.filter(user_id=notification.user_id).first() if notification else None
    if notification is None or settings_ is None or not settings_.enabled:
        return []
    return delivery.deliver(notification, settings_)
