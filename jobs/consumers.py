"""WebSocket `/ws/jobs/<id>/logs/`: a job's stored output, then its live output, until it ends.

Messages are JSON: {"event": "log"|"status"|"end", "data": ...}, as on the SSE stream.
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from jobs import live
from jobs.models import Job
from notifications.consumers import ClosesOnRevocation

UNAUTHENTICATED = 4401
NOT_FOUND = 4404


class JobLogsConsumer(ClosesOnRevocation, AsyncJsonWebsocketConsumer):
    # jobs.live follows Redis itself; the channel layer would only add a blocking read per socket.
    channel_layer_alias = None  # type: ignore[assignment]  # no such layer: get_channel_layer returns None
    relay: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        # Accept first: a close code only reaches the client on an open socket.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        if not await database_sync_to_async(Job.objects.filter(pk=job_id, user_id=user.pk).exists)():
            await self.close(code=NOT_FOUND)
            return
        self.relay = asyncio.create_task(self._relay(job_id))
        self.watch_revocation()

    async def _relay(self, job_id) -> None:
        async for event, data in live.follow(job_id):
            if event != "ping":
                await self.send_json({"event": event, "data": data})
        await self.close()

    async def disconnect(self, code: int) -> None:
        await self.stop_watching_revocation()
        if self.relay is not None:
            self.relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.relay
