"""Creating notifications: the row first, then (after commit) the live publish to Redis."""

from __future__ import annotations

import json
import logging

import redis
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from chronoverse import task_queue
from chronoverse.errors import ServiceError
from chronoverse.redis_client import get_redis, publish_many
from notifications import dashboard
from notifications.models import ALERT_KINDS, DeliverySettings, Notification, NotificationKind, pushed_kinds

logger = logging.getLogger(__name__)

MAX_MARK_READ = 100


def channel_name(user_id) -> str:
    return f"notifications:{user_id}"


def should_push_live(preference: str, kind: str) -> bool:
    return kind in pushed_kinds(preference)


def _message(notification: Notification) -> str:
    return json.dumps(notification.as_message())


def _publish(notification: Notification) -> None:
    try:
        get_redis().publish(channel_name(notification.user_id), _message(notification))
    except redis.RedisError:
        # The row is committed; a live push that fails is caught up by the next page load.
        logger.warning("could not publish notification %s", notification.id, exc_info=True)


def _publish_quietly(notification: Notification) -> None:
    """A notification the preference does not push: to the dashboard socket only, not toasted."""
    message = dashboard.notification_message(notification.as_message(), toast=False)
    dashboard.publish([(notification.user_id, message)])


def notification_copy_many(notifications: list[Notification]) -> None:
    """Store many notifications with one COPY (the job events of a batch). Publish them after
    commit with notification_publish_many."""
    table = Notification._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} (id, user_id, kind, payload, read_at, created_at, updated_at) FROM STDIN") as copy,
    ):
        for n in notifications:
            copy.write_row((n.id, n.user_id, n.kind, json.dumps(n.payload), None, n.created_at, n.updated_at))


def notification_publish_many(notifications: list[Notification], users: dict) -> None:
    """Push rows created in bulk (after their commit), each to its user as their preference says;
    the others go to the user's dashboard pages only (notifications.dashboard)."""
    pushed, quiet = [], []
    for notification in notifications:
        if should_push_live(users[notification.user_id].notification_preference, notification.kind):
            pushed.append((channel_name(notification.user_id), _message(notification)))
        else:
            message = dashboard.notification_message(notification.as_message(), toast=False)
            quiet.append((notification.user_id, message))
    publish_many([*pushed, *dashboard.texts(quiet)], what="notifications")


def notification_mark_read(*, user: User, ids: list) -> int:
    """Mark the caller's notifications read; ids of others' or already read ones change nothing."""
    if not 1 <= len(ids) <= MAX_MARK_READ:
        raise ServiceError(f"Give 1 to {MAX_MARK_READ} ids.", fields={"ids": [f"Give 1 to {MAX_MARK_READ} ids."]})
    return Notification.objects.filter(user=user, pk__in=ids, read_at__isnull=True).update(
        read_at=timezone.now(), updated_at=timezone.now()
    )


def notification_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now(), updated_at=timezone.now()
    )


def delivery_settings_update(
    *, user: User, email_alerts: bool, webhook_url: str, webhook_secret: str
) -> DeliverySettings:
    delivery, _ = DeliverySettings.objects.update_or_create(
        user=user, defaults={"email_alerts": email_alerts, "webhook_url": webhook_url, "webhook_secret": webhook_secret}
    )
    return delivery


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
        transaction.on_commit(lambda: _publish(notification), robust=True)
        if (
            kind in ALERT_KINDS
            and DeliverySettings.objects.filter(user=user).filter(Q(email_alerts=True) | ~Q(webhook_url="")).exists()
        ):
            # Email and webhooks go through a task with retries: a slow mail server never holds up the event.
            task_queue.send_on_commit(task_queue.DELIVER_ALERT, str(notification.id))
    else:
        transaction.on_commit(lambda: _publish_quietly(notification), robust=True)
    return notification
