"""Creating notifications: the row first, then (after commit) the live publish to Redis."""

from __future__ import annotations

import json
import logging

import redis
from django.db import transaction

from accounts.models import NotificationPreference, User
from chronoverse.errors import ServiceError
from chronoverse.redis_client import get_redis
from chronoverse.serializers import format_timestamp
from notifications.models import ALERT_KINDS, Notification, NotificationKind

logger = logging.getLogger(__name__)


def channel_name(user_id) -> str:
    return f"notifications:{user_id}"


def should_push_live(preference: str, kind: str) -> bool:
    if preference == NotificationPreference.ALL:
        return True
    if preference == NotificationPreference.ALERTS:
        return kind in ALERT_KINDS
    return False


def _message(notification: Notification) -> str:
    return json.dumps(
        {
            "id": str(notification.id),
            "kind": notification.kind,
            "payload": notification.payload,
            "created_at": format_timestamp(notification.created_at),
        }
    )


def _publish(notification: Notification) -> None:
    try:
        get_redis().publish(channel_name(notification.user_id), _message(notification))
    except redis.RedisError:
        # The row is committed; a live push that fails is caught up by the next page load.
        logger.warning("could not publish notification %s", notification.id, exc_info=True)


def notification_publish_many(notifications: list[Notification], users: dict) -> None:
    """Push rows created in bulk (after their commit), each to its user as their preference says."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for notification in notifications:
            if should_push_live(users[notification.user_id].notification_preference, notification.kind):
                pipe.publish(channel_name(notification.user_id), _message(notification))
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not publish %d notifications", len(notifications), exc_info=True)


def notification_create(*, user: User, kind: str, payload: dict) -> Notification:
    """Store a notification for `user`; once the surrounding transaction commits, push it live."""
    if kind not in NotificationKind.values:
        raise ServiceError(f"Unknown notification kind {kind!r}.", fields={"kind": ["Unknown kind."]})
    if not isinstance(payload, dict):
        raise ServiceError(
            "A notification payload must be a JSON object.", fields={"payload": ["Must be a JSON object."]}
        )
    notification = Notification.objects.create(user=user, kind=kind, payload=payload)
    if should_push_live(user.notification_preference, kind):
        transaction.on_commit(lambda: _publish(notification))
    return notification
