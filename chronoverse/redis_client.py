"""The one place that opens connections to Redis (pub/sub, rate-limit counters, readiness)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def _client(url: str) -> redis.Redis:
    # A connection pool per URL per process; redis-py's pool is thread-safe.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)
