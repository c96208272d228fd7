"""Middleware of accounts: the early rate limit and the display timezone.

Refuse an API request whose user has used up their rate limit before doing any work for it.

DRF decides throttling after authentication, which costs a database lookup of the token: a client
hammering the API past its limit would still cost one per request. A token this process has seen
recently is mapped to its user without the database, and that user's counter is read (not
counted) in Redis; the regular throttle still counts and decides every other request.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import timezone_names
from accounts.services import token_owner_seen
from chronoverse.api_errors import json_error, retry_after_header
from chronoverse.ratelimit import rate_limit_spent


def early_rate_limit_middleware(get_response: Callable):
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            keyword, _, secret = request.headers.get("Authorization", "").partition(" ")
            owner = token_owner_seen(secret.strip()) if keyword.lower() == "bearer" and secret else None
            if owner is not None:
                decision = rate_limit_spent("api_user", owner)
                if not decision.allowed:
                    return json_error(
                        "rate_limited",
                        "Request was throttled: too many requests for this user.",
                        429,
                        Retry_After=retry_after_header(decision.retry_after),
                    )
        return get_response(request)

    return middleware


# Set by the dashboard's layout.js to the browser's zone (Intl.DateTimeFormat), on every page, for
# users who chose no zone: "empty" then keeps meaning "this browser's zone", on each device.
TIMEZONE_COOKIE = "cv_tz"
# Not the dashboard: the API and the machine endpoints keep their own formats (UTC timestamps).
_NOT_DASHBOARD = ("/api/", "/ping/", "/static/", "/healthz", "/readyz", "/metrics")


def display_timezone_middleware(get_response: Callable):
    """Render every dashboard page in the user's display timezone: their setting, else their
    browser's (the cookie), else settings.TIME_ZONE. Template times and form inputs follow it."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_NOT_DASHBOARD):
            return get_response(request)
        user = getattr(request, "user", None)
        name = user.display_timezone if user is not None and user.is_authenticated else ""
        if not name:
            name = request.COOKIES.get(TIMEZONE_COOKIE, "")
        if name and name in timezone_names():
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return get_response(request)
        finally:
            # The thread serves other requests next (ASGI runs views on a thread pool).
            timezone.deactivate()

    return middleware
