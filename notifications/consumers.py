"""WebSocket `/ws/notifications/`: the user's notifications as they happen, one JSON message each."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer

from notifications.relay import get_relay

UNAUTHENTICATED = 4401


class NotificationsConsumer(AsyncWebsocketConsumer):
    # The relay, not the channel layer, feeds these sockets: no layer means no Redis work per socket.
    channel_layer_alias = None
    user_id: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user_id = str(user.pk)
        get_relay().register(self.user_id, self._deliver)

    async def _deliver(self, text: str) -> None:
        await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        if self.user_id is not None:
            get_relay().unregister(self.user_id, self._deliver)
