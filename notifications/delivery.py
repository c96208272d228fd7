"""Sending alerts beyond the browser: email through Django's email backend, and signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json

import requests
from django.conf import settings
from django.core.mail import send_mail

from notifications.models import DeliverySettings, Notification


def _subject(notification: Notification) -> str:
    name = notification.payload.get("workflow_name", "")
    return f"[Chronoverse] {notification.kind.replace('_', ' ').title()}{f': {name}' if name else ''}"


def deliver(notification: Notification, delivery: DeliverySettings) -> list[str]:
    """Send one alert to every channel the user set up; raises on a failure worth retrying."""
    sent = []
    body = {
        "id": str(notification.id),
        "kind": notification.kind,
        "payload": notification.payload,
        "created_at": notification.created_at.isoformat(),
    }
    if delivery.email_alerts:
        text = "\n".join(f"{key}: {value}" for key, value in notification.payload.items())
        send_mail(_subject(notification), text, settings.DEFAULT_FROM_EMAIL, [notification.user.email])
        sent.append("email")
    if delivery.webhook_url:
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Chronoverse-Notification": notification.kind}
        if delivery.webhook_secret:
            headers["X-Chronoverse-Signature"] = (
                "sha256=" + hmac.new(delivery.webhook_secret.encode(), raw, hashlib.sha256).hexdigest()
            )
        response = requests.post(delivery.webhook_url, data=raw, headers=headers, timeout=10)
        if response.status_code >= 500 or response.status_code == 429:
            raise requests.HTTPError(f"webhook answered {response.status_code}", response=response)
        sent.append("webhook")
    return sent
