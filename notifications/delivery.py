"""Sending alerts beyond the browser: email through Django's email backend, and signed webhooks."""

from __future__ import annotations

import json
import logging

import requests
from django.conf import settings
from django.core.mail import send_mail

from chronoverse import outbound_http
from notifications.models import DeliverySettings, Notification

logger = logging.getLogger(__name__)


def _subject(notification: Notification) -> str:
    name = notification.payload.get("workflow_name", "")
    return f"[Chronoverse] {notification.kind.replace('_', ' ').title()}{f': {name}' if name else ''}"


def send_email(notification: Notification) -> None:
    text = "\n".join(f"{key}: {value}" for key, value in notification.payload.items())
    send_mail(_subject(notification), text, settings.DEFAULT_FROM_EMAIL, [notification.user.email])


def send_webhook(notification: Notification, delivery: DeliverySettings) -> None:
    """POST the alert; raises on a failure worth retrying (no answer, 5xx, 429)."""
    raw = json.dumps(notification.as_message(), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Chronoverse-Notification": notification.kind}
    if delivery.webhook_secret:
        headers[outbound_http.SIGNATURE_HEADER] = outbound_http.sign(delivery.webhook_secret, raw)
    try:
        result = outbound_http.send("POST", delivery.webhook_url, headers=headers, body=raw, timeout=10)
    except outbound_http.BlockedAddress:
        logger.warning("alert webhook of %s refused: private address", notification.user_id)
        return
    if result.status >= 500 or result.status == 429:
        raise requests.HTTPError(f"webhook answered {result.status}")
