"""WebSocket `/ws/notifications/`: the user's notifications as they happen, one JSON message each."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, cast

from channels.generic.websocket import AsyncWebsocketConsumer

from notifications.relay import get_relay

UNAUTHENTICATED = 4401


if TYPE_CHECKING:
    # The mixin is only ever combined with a WebSocket consumer, whose scope and close() it uses.
    _Consumer = AsyncWebsocketConsumer
else:
    _Consumer = object


class ClosesOnRevocation(_Consumer):
    """For a token socket: closed with 4401 the moment its token is revoked or expires."""

    _revocation: asyncio.Task | None = None
    _ended: asyncio.Event | None = None

    def _auth_token(self) -> tuple[str, datetime | None] | None:
        # Put in the scope by accounts.ws_auth for a token socket; not a key of Channels' scope type.
        return cast("tuple[str, datetime | None] | None", self.scope.get("auth_token"))

    def watch_revocation(self) -> None:
        ended = self._ended = get_relay().watch_token(self._auth_token())

        async def close_when_ended() -> None:
            await ended.wait()
            await self.close(code=UNAUTHENTICATED)

        self._revocation = asyncio.create_task(close_when_ended())

    async def stop_watching_revocation(self) -> None:
        if self._ended is not None:
            get_relay().unwatch_token(self._auth_token(), self._ended)
        if self._revocation is not None:
            self._revocation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._revocation


class NotificationsConsumer(ClosesOnRevocation, AsyncWebsocketConsumer):
    # The relay, not the channel layer, feeds these sockets: no layer means no Redis work per socket.
    channel_layer_alias = None  # type: ignore[assignment]  # no such layer: get_channel_layer returns None
    user_id: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user_id = str(user.pk)
        get_relay().register(self.user_id, self._deliver)
        self.watch_revocation()

    async def _deliver(self, text: str) -> None:
        await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        if self.user_id is not None:
            get_relay().unregister(self.user_id, self._deliver)
        await self.stop_watching_revocation()
