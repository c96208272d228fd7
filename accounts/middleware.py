"""Refuse an API request whose user has used up their rate limit before doing any work for it.

DRF decides throttling after authentication, which costs a database lookup of the token: a client
hammering the API past its limit would still cost one per request. A token this process has seen
recently is mapped to its user without the database, and that user's counter is read (not
counted) in Redis; the regular throttle still counts and decides every other request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
