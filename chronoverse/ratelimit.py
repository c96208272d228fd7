"""Rate limits counted in Redis with fixed windows.

One INCR (plus EXPIRE on a window's first hit) per check keeps the cost of a limit constant,
whatever the rate, and every web process shares the same counters. When Redis is unreachable the
limit is not enforced (logged): an outage of the counter store must not take the API down with it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from chronoverse.redis_client import get_redis

logger = logging.getLogger(__name__)

_PERIOD_SECONDS = {"sec": 1, "min": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: float


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, period = rate.partition("/")
    return int(count), _PERIOD_SECONDS[period]


def rate_limit_hit(scope: str, ident: str) -> RateDecision:
    """Count one hit for `ident` under the limit named `scope` in settings.RATE_LIMITS."""
    return rate_limit_hits(scope, [ident])[0]


def rate_limit_hits(scope: str, idents: list[str]) -> list[RateDecision]:
    """Count one hit for each of `idents` (in order; one may repeat) in one round trip to Redis."""
    if not idents:
        return []
    limit, period = parse_rate(settings.RATE_LIMITS[scope])
    now = time.time()
    window = int(now // period)
    try:
        pipe = get_redis().pipeline(transaction=False)
        for ident in idents:
            key = f"ratelimit:{scope}:{ident}:{window}"
            pipe.incr(key)
            pipe.expire(key, period + 1, nx=True)
        counts = pipe.execute()[::2]
    except redis.RedisError:
        logger.warning("rate limit %s not enforced: Redis unreachable", scope, exc_info=True)
        return [RateDecision(True, 0.0)] * len(idents)
    retry_after = (window + 1) * period - now
    return [RateDecision(True, 0.0) if count <= limit else RateDecision(False, retry_after) for count in counts]


def rate_limit_spent(scope: str, ident: str) -> RateDecision:
    """Whether `ident` has already used up its limit in this window, without counting a hit."""
    limit, period = parse_rate(settings.RATE_LIMITS[scope])
    now = time.time()
    window = int(now // period)
    try:
        count = int(get_redis().get(f"ratelimit:{scope}:{ident}:{window}") or 0)
    except redis.RedisError:
        return RateDecision(True, 0.0)
    if count < limit:
        return RateDecision(True, 0.0)
    return RateDecision(False, (window + 1) * period - now)


def client_ip(request) -> str:
    # Behind a proxy, the operator sets REMOTE_ADDR through the proxy's own middleware; we do not
    # trust X-Forwarded-For from arbitrary clients.
    return request.META.get("REMOTE_ADDR") or "unknown"


class ApiRateThrottle(BaseThrottle):
    """Per-user limit for authenticated requests (per token owner), per-IP otherwise."""

    def allow_request(self, request: Request, view) -> bool:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            decision = rate_limit_hit("api_user", str(user.pk))
        else:
            decision = rate_limit_hit("api_anon", client_ip(request))
        self._retry_after = decision.retry_after
        return decision.allowed

    def wait(self) -> float:
        return self._retry_after
