"""Operational endpoints: liveness, readiness (database, Redis, container engine) and metrics."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chronoverse.api_errors import json_error
from chronoverse.docker_engine import engine_ping
from chronoverse.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS
from chronoverse.redis_client import get_redis

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    get_redis().ping()


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "redis": _check_redis,
    "docker": lambda: engine_ping(timeout=3),
}


LIVE = {"status": "ok"}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse(LIVE)


def answer_liveness_first(app: Callable) -> Callable:
    """ASGI wrapper that answers `GET /healthz` on the event loop itself.

    Django runs sync views one at a time per process, on one thread: behind twenty busy API
    clients a liveness probe would wait its turn and a supervisor would think the process hung.
    "The process is up" needs no database, session or middleware, so it never joins that queue.
    The Django view above stays for the test client and WSGI.
    """
    body = json.dumps(LIVE).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def wrapper(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] != "/healthz" or scope["method"] not in ("GET", "HEAD"):
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})
        HTTP_REQUESTS.labels(scope["method"], "healthz", "200").inc()
        HTTP_REQUEST_SECONDS.labels(scope["method"], "healthz").observe(time.perf_counter() - started)

    return wrapper


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason is reported, not raised
            logger.warning("readiness check %s failed: %s", name, exc)
            # The kind of failure only: the full message (hosts, users) goes to the log, not to anyone asking.
            results[name] = f"down: {type(exc).__name__}"
    down = [name for name, result in results.items() if result != "ok"]
    if down:
        return JsonResponse({"status": "unavailable", "down": down, "checks": results}, status=503)
    return JsonResponse({"status": "ok", "checks": results})


def _may_scrape(request: HttpRequest) -> bool:
    """The operator's METRICS_TOKEN as a bearer token, or, with none set, a request from this machine."""
    if settings.METRICS_TOKEN:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), settings.METRICS_TOKEN.encode())
    return request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1")


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    # Figures about every user's activity are for the operator, not for the internet.
    if not _may_scrape(request):
        return json_error("permission_denied", "Metrics need the operator's METRICS_TOKEN.", 403)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
