"""The worker hosts: machines that each run a Celery worker beside a Docker engine of their own.

Everything that touches a container goes to the host whose engine holds it, through Celery: each
host's worker consumes `host.<name>` (chronoverse.celery adds it to a worker that takes jobs), and
this module sends there. Which hosts exist is soft state in Redis, refreshed by each host every
HOST_SWEEP_SECONDS: a Redis that lost it knows them again within one period, and until then work
is sent to the shared jobs queue, which every live host consumes.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import redis
from django.conf import settings

from chronoverse import task_queue
from chronoverse.redis_client import get_redis

logger = logging.getLogger(__name__)

KEY = "chronoverse:worker-hosts"
# A host not heard from for this long is forgotten: nothing more is queued for it (it cleans up
# for itself at its next start anyway).
FORGET_AFTER_SECONDS = 7 * 86400


def this_host() -> str:
    return settings.WORKER_HOST


def is_this_host(host: str) -> bool:
    """Whether `host` is this process's own machine (or unknown: a job claimed before hosts were
    recorded ran on the one engine there was)."""
    return not host or host == settings.WORKER_HOST


def host_seen(host: str | None = None) -> None:
    """Record that `host` (this one by default) is alive; Redis being away only delays that."""
    try:
        get_redis().hset(KEY, host or this_host(), str(time.time()))
    except redis.RedisError:
        logger.warning("could not record worker host %s as alive", host or this_host(), exc_info=True)


def _hosts_seen_since(cutoff: float) -> list[str]:
    try:
        seen = get_redis().hgetall(KEY)
    except redis.RedisError:
        logger.warning("could not read the worker hosts", exc_info=True)
        return []
    names = (name.decode() if isinstance(name, bytes) else name for name, at in seen.items() if float(at) >= cutoff)
    return sorted(names)


def hosts_live() -> list[str]:
    """Hosts heard from within three sweep periods."""
    return _hosts_seen_since(time.time() - 3 * settings.HOST_SWEEP_SECONDS)


def hosts_known() -> list[str]:
    """Every host heard from lately, alive or not: those that must hear of an image to remove."""
    return _hosts_seen_since(time.time() - FORGET_AFTER_SECONDS)


def host_other_than(host: str) -> str | None:
    """A live host other than `host`, for a job that `host` could not run; None if there is none."""
    others = [h for h in hosts_live() if h != host]
    return random.choice(others) if others else None


def send_to_host(host: str, name: str, *args: Any, expires: float | None = None) -> None:
    task_queue.send(name, *args, queue=task_queue.host_queue(host), expires=expires)


def send_to_each_host(name: str, *args: Any) -> None:
    """Send the task to every known host (an image to remove is on each that pulled it); with none
    known yet, to the jobs queue, whose worker is the one host there is."""
    hosts = hosts_known()
    if not hosts:
        task_queue.send(name, *args)
    for host in hosts:
        send_to_host(host, name, *args)
