"""What the dashboard's one socket (`/ws/dashboard/`, jobs.consumers.DashboardConsumer) receives,
and how it is published. See docs/dashboard-socket.md for the messages.

Everything live about a user's workflows and jobs goes, after commit, to the Redis channel
`dashboard:<user_id>`, whatever the user's notification preference: a page must see a job end
even when the user asked for no toasts. Notifications travel once each: those the preference
pushes live on the contract's `notifications:<user_id>` (the dashboard socket listens there too
and marks them `toast: true`), the others on `dashboard:<user_id>` with `toast: false`, so that
a page can list them without toasting or counting them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction

from chronoverse.redis_client import publish_many
from notifications.labels import notification_text, notification_title
from notifications.relay import dashboard_channel

# (user id, message)
Outgoing = tuple[Any, dict]


def notification_message(message: dict, *, toast: bool) -> dict:
    """A notification (as the contract publishes it) for the dashboard: with its humane title and
    line, and whether this user's preference toasts and counts it."""
    payload = message.get("payload") or {}
    kind = message.get("kind", "")
    return {
        "type": "notification",
        "toast": toast,
        "title": notification_title(kind, payload),
        "text": notification_text(kind, payload),
        "notification": message,
    }


def texts(outgoing: Iterable[Outgoing]) -> list[tuple[str, str]]:
    """(channel, text) pairs for chronoverse.redis_client.publish_many."""
    return [(dashboard_channel(user_id), json.dumps(message)) for user_id, message in outgoing]


def publish(outgoing: Sequence[Outgoing]) -> None:
    """Live messages only wake pages up (what they say is in Postgres, and a page that reconnects
    reads it again), so a failed publish is logged, never raised."""
    publish_many(texts(outgoing), what="dashboard messages")


def publish_on_commit(outgoing: Sequence[Outgoing]) -> None:
    outgoing = list(outgoing)
    if outgoing:
        transaction.on_commit(lambda: publish(outgoing), robust=True)
