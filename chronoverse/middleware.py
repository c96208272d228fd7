"""Middleware for every request: metrics, and the request size limit."""

from __future__ import annotations

import time
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chronoverse.api_errors import json_error
from chronoverse.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    route = _route(request)
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    HTTP_REQUEST_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)


def metrics_middleware(get_response: Callable):
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = await get_response(request)
            _observe(request, response, started)
            return response

        markcoroutinefunction(async_middleware)
        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        _observe(request, response, started)
        return response

    return middleware


def request_size_limit_middleware(get_response: Callable):
    """Answer 413 from the declared length, before a view or parser buffers the body."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if "CONTENT_LENGTH" not in request.META and request.method in ("POST", "PUT", "PATCH", "DELETE"):
            # A chunked body has no declared length, and DRF reads a body without one as empty. The
            # ASGI server has received all of it already: measure it, and declare what it is.
            received = len(request.body)
            if received:
                request.META["CONTENT_LENGTH"] = str(received)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error("invalid_argument", "Content-Length is not a number.", 400)
        if length > settings.MAX_REQUEST_BYTES:
            return json_error(
                "payload_too_large",
                f"Request body is {length} bytes; the limit is {settings.MAX_REQUEST_BYTES} bytes.",
                413,
            )
        return get_response(request)

    return middleware
