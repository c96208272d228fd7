"""WebSocket authentication: the session (through Channels' AuthMiddlewareStack) or `?token=`.

Browsers cannot set an Authorization header on a WebSocket, so API clients pass their bearer
token in the query string instead; it is checked exactly like the header. The Origin check guards
against other sites riding on a browser's session cookie, so it applies to session sockets only:
a token is proof enough, and non-browser clients usually send no Origin at all.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from accounts.services import token_authenticate


@database_sync_to_async
def _user_for_token(secret: str):
    found = token_authenticate(secret)
    return found[0] if found else None


class WebSocketAuth:
    def __init__(self, inner):
        self.inner = inner
        self.session_stack = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        params = parse_qs(scope.get("query_string", b"").decode())
        if "token" not in params:
            return await self.session_stack(scope, receive, send)
        user = await _user_for_token(params["token"][0])
        return await self.inner({**scope, "user": user or AnonymousUser()}, receive, send)
