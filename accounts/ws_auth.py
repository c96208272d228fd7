"""WebSocket authentication: the session (through Channels' AuthMiddlewareStack) or `?token=`.

Browsers cannot set an Authorization header on a WebSocket, so API clients pass their bearer
token in the query string instead; it is checked exactly like the header. The session cookie is
honoured only when the socket's Origin is this site's: another site's page (cross-site WebSocket
hijacking) or a client that sends no Origin (not a browser) gets no session, so the consumer
closes the socket with 4401 as for any unauthenticated socket. A token is proof enough whatever
the Origin: it is not something a browser attaches by itself.

A token socket carries the token's id and expiry in its scope (`auth_token`), so that it can be
closed the moment the token is revoked or expires.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import parse_qs, urlparse

from asgiref.typing import ASGI3Application
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from accounts.services import token_authenticate


@database_sync_to_async
def _authenticate(secret: str):
    return token_authenticate(secret)


def _origin(scope):
    for name, value in scope.get("headers", []):
        if name == b"origin":
            try:
                return urlparse(value.decode("latin1"))
            except UnicodeDecodeError:
                return None
    return None


class WebSocketAuth:
    def __init__(self, inner):
        self.inner = inner
        # An ASGI 3 middleware instance; the stubs' return type also allows an ASGI 2 class.
        self.session_stack = cast(ASGI3Application, AuthMiddlewareStack(inner))
        # Used for its check of the Origin against ALLOWED_HOSTS, not as a middleware: a refused
        # Origin must reach the consumer (to close with 4401), not be denied at the handshake.
        self.origins = AllowedHostsOriginValidator(self.session_stack)

    async def __call__(self, scope, receive, send):
        params = parse_qs(scope.get("query_string", b"").decode())
        if "token" in params:
            found = await _authenticate(params["token"][0])
            if found is None:
                return await self.inner({**scope, "user": AnonymousUser()}, receive, send)
            user, token = found
            return await self.inner(
                {**scope, "user": user, "auth_token": (str(token.pk), token.expires_at)}, receive, send
            )
        if self.origins.valid_origin(_origin(scope)):
            return await self.session_stack(scope, receive, send)
        return await self.inner({**scope, "user": AnonymousUser()}, receive, send)
