"""The notification relay: ONE Redis pattern subscription per ASGI process, fanned out to the
process's own sockets. The same connection hears token revocations, so that whatever a revoked or
expired token opened in this process (sockets, event streams) is ended at once.

The same subscription carries the `clients:<user_id>` channel of client sockets (jobs.consumers)
and the `dashboard:<user_id>` channel of the dashboard's own socket (notifications.dashboard): each
socket registers for a family of channels (`notifications`, `clients` or `dashboard`) and its user.

A browser's socket costs a dictionary entry here, not a Redis connection. The relay starts with
the first socket and reconnects by itself when Redis goes away (a restart): sockets stay open
meanwhile; what was published during the outage is in Postgres and shows on the next page load,
and sockets that must not miss anything (client hooks) are told to read it again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import datetime
from typing import TypeVar, cast

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.models import ApiToken
from accounts.services import TOKEN_REVOKED_CHANNEL

logger = logging.getLogger(__name__)

T = TypeVar("T")
NOTIFICATIONS = "notifications"
CLIENTS = "clients"
DASHBOARD = "dashboard"
# One pattern per family of per-user channels (`<family>:<user_id>`), subscribed in one command.
PATTERNS = (f"{NOTIFICATIONS}:*", f"{CLIENTS}:*", f"{DASHBOARD}:*")
Deliver = Callable[[str], Awaitable[None]]
Resync = Callable[[], Coroutine[object, object, None]]


def client_channel(user_id) -> str:
    """Where client-socket messages for a user are published (jobs.client_events)."""
    return f"{CLIENTS}:{user_id}"


def dashboard_channel(user_id) -> str:
    """Where the dashboard socket's messages for a user are published (notifications.dashboard)."""
    return f"{DASHBOARD}:{user_id}"


class Relay:
    def __init__(self) -> None:
        self._sockets: dict[tuple[str, str], set[Deliver]] = defaultdict(set)
        self._resyncs: set[Resync] = set()
        self._resyncing: set[asyncio.Task] = set()  # held here: the loop keeps only weak references
        self._revocable: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0

    def register(self, user_id: str, deliver: Deliver, *, family: str = NOTIFICATIONS) -> None:
        self._sockets[(family, user_id)].add(deliver)
        self._start()

    def on_reconnect(self, resync: Resync) -> None:
        """Call `resync` each time the relay is back on Redis after losing it (messages published
        meanwhile were never heard). Remove it with `unwatch_reconnect`."""
        self._resyncs.add(resync)

    def unwatch_reconnect(self, resync: Resync) -> None:
        self._resyncs.discard(resync)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notification-relay")

    def watch_token(self, auth_token: tuple[str, datetime | None] | None) -> asyncio.Event:
        """An event set when the token (id, expires_at) is revoked or expires; never set for None
        (a session). Call `unwatch_token` with the same event when done."""
        ended = asyncio.Event()
        if auth_token is None:
            return ended
        token_id, expires_at = auth_token
        self._revocable[token_id].add(ended)
        if expires_at is not None:
            delay = max(0.0, (expires_at - timezone.now()).total_seconds())
            asyncio.get_running_loop().call_later(delay, ended.set)
        self._start()
        return ended

    def unwatch_token(self, auth_token: tuple[str, datetime | None] | None, ended: asyncio.Event) -> None:
        if auth_token is None:
            return
        watchers = self._revocable.get(auth_token[0])
        if watchers is not None:
            watchers.discard(ended)
            if not watchers:
                del self._revocable[auth_token[0]]

    def unregister(self, user_id: str, deliver: Deliver, *, family: str = NOTIFICATIONS) -> None:
        sockets = self._sockets.get((family, user_id))
        if sockets is not None:
            sockets.discard(deliver)
            if not sockets:
                del self._sockets[(family, user_id)]

    async def _run(self) -> None:
        delay = 0.1
        while True:
            client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=10)
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(*PATTERNS)
                await pubsub.subscribe(TOKEN_REVOKED_CHANNEL)
                self.connected.set()
                delay = 0.1
                if self.reconnects:
                    for resync in list(self._resyncs):
                        # Each socket reads what it missed from the database, beside the listener.
                        task = asyncio.get_running_loop().create_task(_logging_failure(resync()))
                        self._resyncing.add(task)
                        task.add_done_callback(self._resyncing.discard)
                if self.reconnects and self._revocable:
                    # Revocations published while Redis was away were never heard: ask the database.
                    for token_id in await _unusable_tokens(list(self._revocable)):
                        for ended in self._revocable.get(token_id, ()):
                            ended.set()
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        await self._fan_out(message["channel"], message["data"])
                    elif message["type"] == "message":
                        for ended in self._revocable.get(message["data"].decode(), ()):
                            ended.set()
            except (RedisError, OSError) as exc:
                self.connected.clear()
                self.reconnects += 1
                logger.warning("notification relay lost Redis (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _fan_out(self, channel: bytes, data: bytes) -> None:
        family, _, user_id = channel.decode().partition(":")
        text = data.decode()
        for deliver in list(self._sockets.get((family, user_id), ())):
            try:
                await deliver(text)
            except Exception:
                # A socket that cannot take a message is gone (it may have died without disconnecting).
                logger.warning("dropping a socket of %s that failed a delivery", user_id, exc_info=True)
                self.unregister(user_id, deliver, family=family)


async def _logging_failure(resync: Coroutine[object, object, None]) -> None:
    try:
        await resync
    except Exception:
        logger.warning("a socket could not catch up after the relay reconnected", exc_info=True)


@sync_to_async
def _unusable_tokens(token_ids: list[str]) -> set[str]:
    now = timezone.now()
    usable = ApiToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True).exclude(expires_at__lte=now)
    return set(token_ids) - {str(pk) for pk in usable.values_list("pk", flat=True)}


# One relay per event loop: Daphne runs one loop per process; tests may run several in turn.
_relays: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Relay] = weakref.WeakKeyDictionary()


def get_relay() -> Relay:
    loop = asyncio.get_running_loop()
    relay = _relays.get(loop)
    if relay is None:
        relay = _relays[loop] = Relay()
    return relay


async def until_set(ended: asyncio.Event, items: AsyncIterator[T]) -> AsyncIterator[T]:
    """The items of `items` until `ended` is set; then the iteration stops at once, even mid-wait."""
    iterator = aiter(items)

    async def next_item() -> tuple[bool, T | None]:
        try:
            return True, await anext(iterator)
        except StopAsyncIteration:
            return False, None

    stop = asyncio.ensure_future(ended.wait())
    try:
        while True:
            step = asyncio.ensure_future(next_item())
            await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await step
                return
            more, item = step.result()
            if not more:
                return
            yield cast(T, item)  # `more`: the item came from the iterator
    finally:
        stop.cancel()
        with contextlib.suppress(Exception):
            # An async generator is closed now, so that its own clean-up runs; other iterators have no aclose.
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
