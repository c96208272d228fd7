"""The one place that opens connections to Redis (pub/sub, rate-limit counters, readiness)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import cache

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)


@cache
def _client(url: str) -> redis.Redis:
    # A connection pool per URL per process (redis-py's pool is thread-safe). Retrying on a broken
    # connection lets publishers carry on through a Redis restart instead of dropping a message.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def publish_many(messages: Iterable[tuple[str, str]], *, what: str) -> None:
    """PUBLISH each (channel, text) in one round trip. Live messages only wake listeners up (what
    they say is in Postgres), so Redis being away is logged, never raised to the writer."""
    messages = list(messages)
    if not messages:
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        for channel, text in messages:
            pipe.publish(channel, text)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not publish %d %s", len(messages), what, exc_info=True)
