"""The jobs app's WebSockets.

`/ws/jobs/<id>/logs/`: a job's stored output, then its live output, until it ends. Messages are
JSON: {"event": "log"|"status"|"end", "data": ...}, as on the SSE stream.

`/ws/clients/`: client hooks (the agents that receive WEBSOCKET jobs' events and acknowledge
them) and tag listeners (the status changes of jobs whose workflows carry their tags); see
jobs.clients and docs/client-sockets.md.

`/ws/dashboard/`: the dashboard's one socket per page: the user's notifications, job and workflow
changes, and on request one job's log; see notifications.dashboard and docs/dashboard-socket.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import ApiToken, TokenScope
from accounts.services import token_authenticate
from jobs import clients, live
from jobs.models import ClientConnection, Job
from notifications import dashboard
from notifications.consumers import ClosesOnRevocation
from notifications.relay import CLIENTS, DASHBOARD, NOTIFICATIONS, get_relay
from workflows.payloads import CLIENT_NAME
from workflows.validation import TAG

logger = logging.getLogger(__name__)

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


# -- /ws/dashboard/: everything live of one dashboard page ----------------------------------------


class DashboardConsumer(ClosesOnRevocation, AsyncJsonWebsocketConsumer):
    """The user's live changes, whatever their notification preference, and their notifications
    marked `toast` as the preference says; a page may also ask for one job's log at a time:
    `{"type": "follow", "job_id": "<id>", "after": <last sequence seen>}` (and `{"type": "unfollow"}`).
    Each socket is a dictionary entry in the process's relay, as for /ws/notifications/; a log
    followed is one Redis subscription while it runs (jobs.live), as for /ws/jobs/<id>/logs/."""

    channel_layer_alias = None  # type: ignore[assignment]  # the relay feeds it, as for notifications
    user_id: str | None = None
    _follower: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user_id = str(user.pk)
        relay = get_relay()
        relay.register(self.user_id, self._toasted, family=NOTIFICATIONS)
        relay.register(self.user_id, self._relayed, family=DASHBOARD)
        relay.on_reconnect(self._resync)
        self.watch_revocation()
        # `ready` means live: what is published from now on arrives. A page fetches what changed
        # before it (a reconnecting page, a page rendered a moment ago) once it hears `ready`.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(relay.connected.wait(), RELAY_WAIT_SECONDS)
        await self.send_json({"type": "ready"})

    async def _toasted(self, text: str) -> None:
        # The contract's notification message, pushed because the user's preference says so.
        await self.send_json(dashboard.notification_message(json.loads(text), toast=True))

    async def _relayed(self, text: str) -> None:
        await self.send(text_data=text)

    async def _resync(self) -> None:
        # The relay lost Redis for a while: what was published meanwhile never came. The page reads again.
        await self.send_json({"type": "resync"})

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict) or content.get("type") not in ("follow", "unfollow"):
            await self.send_json({"type": "error", "code": "invalid_argument", "message": "Unknown message."})
            return
        await self._stop_following()
        if content["type"] == "unfollow":
            return
        after = content.get("after", 0)
        try:
            job_id = uuid.UUID(str(content.get("job_id")))
        except ValueError:
            job_id = None
        if job_id is None or not isinstance(after, int) or isinstance(after, bool) or after < 0:
            await self.send_json(
                {"type": "error", "code": "invalid_argument", "message": "Give a job_id and an `after` of 0 or more."}
            )
            return
        owned = Job.objects.filter(pk=job_id, user_id=str(self.user_id))
        if not await database_sync_to_async(owned.exists)():
            await self.send_json({"type": "error", "code": "not_found", "message": "Job not found."})
            return
        self._follower = asyncio.create_task(self._follow(str(job_id), after))

    async def _follow(self, job_id: str, after: int) -> None:
        # Status changes come through the dashboard channel too; the log's stream adds its lines and its end.
        try:
            async for event, data in live.follow(job_id, after=after):
                if event == "log":
                    await self.send_json({"type": "log", "job_id": job_id, "line": data})
                elif event == "status":  # where the job stood when the replay ended: a page catching up
                    await self.send_json({"type": "log_status", "job_id": job_id, "job": data})
                elif event == "end":
                    await self.send_json({"type": "log_end", "job_id": job_id, "job": data})
        except Exception:
            # Redis went away mid-follow, say: the page follows again from its last line on reconnect.
            logger.warning("following the log of job %s failed", job_id, exc_info=True)
            await self.close()

    async def _stop_following(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None

    async def disconnect(self, code: int) -> None:
        await self._stop_following()
        if self.user_id is not None:
            relay = get_relay()
            relay.unregister(self.user_id, self._toasted, family=NOTIFICATIONS)
            relay.unregister(self.user_id, self._relayed, family=DASHBOARD)
            relay.unwatch_reconnect(self._resync)
        await self.stop_watching_revocation()


# -- /ws/clients/: client hooks and tag listeners ------------------------------------------------

MALFORMED = 4400
FORBIDDEN = 4403
HOOK = "client-hook"
LISTENER = "tag-listener"
_HELLO_KEYS = {HOOK: {"type", "client_name", "token"}, LISTENER: {"type", "tags", "token"}}
MAX_LISTENED_TAGS = 20
# How long a new socket waits for the relay to be on Redis before it says ready: ready then means
# live (events published from now on reach it); without Redis it goes on after this, and catches
# up from the database when the relay gets back.
RELAY_WAIT_SECONDS = 2.0


class Refused(Exception):
    """A first message the socket is closed for: the close code and the reason told to the client."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Caller:
    user_id: str
    can_write: bool
    auth_token: tuple[str, datetime | None] | None  # a token socket's (token id, expiry)


def _parse(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _check_hello(message: dict | None) -> tuple[str, str, frozenset[str]]:
    """(role, client_name, tags) of a well-formed first message; Refused(4400) otherwise."""
    if message is None:
        raise Refused(MALFORMED, "The first message must be a JSON object.")
    role = message.get("type")
    if role not in _HELLO_KEYS:
        raise Refused(MALFORMED, f'type must be "{HOOK}" or "{LISTENER}".')
    unknown = sorted(set(message) - _HELLO_KEYS[role])
    if unknown:
        raise Refused(MALFORMED, f"Unknown field(s) for a {role}: {', '.join(unknown)}.")
    if role == HOOK:
        name = message.get("client_name")
        if not isinstance(name, str) or not CLIENT_NAME.match(name):
            raise Refused(MALFORMED, "client_name must be 1-64 characters of [a-z0-9_.-].")
        return role, name, frozenset()
    tags = message.get("tags")
    if (
        not isinstance(tags, list)
        or not 1 <= len(tags) <= MAX_LISTENED_TAGS
        or not all(isinstance(tag, str) and TAG.match(tag) for tag in tags)
    ):
        raise Refused(MALFORMED, f"tags must be 1-{MAX_LISTENED_TAGS} tags of 1-64 characters of [a-z0-9_.-].")
    return role, "", frozenset(tags)


@database_sync_to_async
def _identify(secret: object, scope_user, scope_token: tuple[str, datetime | None] | None) -> Caller | None:
    """Who the socket speaks for: the first message's token, else the `?token=` (or same-origin
    session) the socket was opened with; None when that is missing, bad, revoked or expired."""
    if secret is not None:
        if not isinstance(secret, str):
            return None
        found = token_authenticate(secret)
        if found is None:
            return None
        user, token = found
        return Caller(str(user.pk), token.can_write, (str(token.pk), token.expires_at))
    if scope_user is None or not scope_user.is_authenticated:
        return None
    if scope_token is None:
        return Caller(str(scope_user.pk), True, None)  # the dashboard's own session
    scopes = ApiToken.objects.filter(pk=scope_token[0]).values_list("scopes", flat=True).first() or []
    return Caller(str(scope_user.pk), TokenScope.WRITE in scopes, scope_token)


class ClientSocketConsumer(ClosesOnRevocation, AsyncWebsocketConsumer):
    """A client hook receives the events of its user's WEBSOCKET jobs for its name and acks them;
    a tag listener receives the status changes of its user's jobs whose workflows carry its tags.
    Every message is JSON; the socket is closed with 4400 (malformed first message, or none in
    CLIENT_SOCKET_HANDSHAKE_SECONDS), 4401 (bad or missing token) or 4403 (a read-only token
    cannot acknowledge jobs, so it cannot be a client hook)."""

    channel_layer_alias = None  # type: ignore[assignment]  # the relay feeds it, as for notifications
    role: str | None = None
    user_id: str = ""
    client_name: str = ""
    tags: frozenset[str] = frozenset()
    connection: ClientConnection | None = None
    _handshake: asyncio.Task | None = None
    _refresher: asyncio.Task | None = None
    _closed = False

    async def connect(self) -> None:
        # Job id -> ack deadline of the events sent on this socket: each is sent once per socket.
        self._sent: dict[str, float] = {}
        self._counting: set[asyncio.Future] = set()  # held here: the loop keeps only weak references
        await self.accept()
        self._handshake = asyncio.create_task(self._expire_handshake())

    async def _expire_handshake(self) -> None:
        await asyncio.sleep(settings.CLIENT_SOCKET_HANDSHAKE_SECONDS)
        await self._refuse(Refused(MALFORMED, "No first message in time."))

    async def _refuse(self, refused: Refused) -> None:
        if self._closed:
            return
        self._closed = True
        code = {MALFORMED: "invalid_argument", UNAUTHENTICATED: "unauthenticated", FORBIDDEN: "permission_denied"}
        await self.send(text_data=json.dumps({"type": "error", "code": code[refused.code], "message": refused.reason}))
        await self.close(code=refused.code, reason=refused.reason[:120])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self._closed:
            return
        if self.role is None:
            if self._handshake is not None:
                self._handshake.cancel()  # the first message came in time, however long it takes
            try:
                await self._hello(_parse(text_data))
            except Refused as refused:
                await self._refuse(refused)
            return
        await self._answer(_parse(text_data))

    async def _hello(self, message: dict | None) -> None:
        role, client_name, tags = _check_hello(message)
        assert message is not None  # _check_hello refuses anything else
        caller = await _identify(message.get("token"), self.scope.get("user"), self._auth_token())
        if caller is None:
            raise Refused(UNAUTHENTICATED, "A valid token is required (in the message or as ?token=).")
        if role == HOOK and not caller.can_write:
            raise Refused(FORBIDDEN, "A client hook acknowledges jobs: its token needs the write scope.")
        self.role, self.user_id, self.client_name, self.tags = role, caller.user_id, client_name, tags
        # ClosesOnRevocation reads the token from the scope: one given in the message counts too.
        self.scope["auth_token"] = caller.auth_token  # type: ignore[typeddict-unknown-key]  # our own key (accounts.ws_auth)
        relay = get_relay()
        relay.register(self.user_id, self._relayed, family=CLIENTS)
        self.watch_revocation()
        if role == HOOK:
            address = (self.scope.get("client") or [""])[0] or ""
            self.connection = await database_sync_to_async(clients.client_connection_open)(
                user_id=self.user_id, client_name=client_name, remote_addr=address
            )
            relay.on_reconnect(self._catch_up)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(relay.connected.wait(), RELAY_WAIT_SECONDS)
        await self.send(text_data=json.dumps({"type": "ready"}))
        if role == HOOK:
            await self._catch_up()
            self._refresher = asyncio.create_task(self._refresh())

    async def _answer(self, message: dict | None) -> None:
        if message is None or message.get("type") != "ack":
            await self._error("invalid_argument", 'Expected {"type": "ack", "job_id": "<job id>"}.')
            return
        if self.role == LISTENER:
            await self._error("ack_not_allowed", "A tag listener has nothing to acknowledge.")
            return
        try:
            job_id = uuid.UUID(str(message.get("job_id")))
        except ValueError:
            await self._error("invalid_argument", "job_id must be the id of a job.")
            return
        assert self.connection is not None  # a client hook has one from its hello on
        # An ack of a job that is not (or no longer) waiting is ignored, as the contract says.
        await database_sync_to_async(clients.client_ack)(
            user_id=self.user_id, client_name=self.client_name, job_id=job_id, connection=self.connection
        )

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "code": code, "message": message}))

    async def _relayed(self, text: str) -> None:
        envelope = json.loads(text)
        if self.role == HOOK:
            if envelope.get("hook") == self.client_name:
                await self._send_events([(envelope["message"], envelope["deadline"])])
        elif self.tags.intersection(envelope.get("tags", ())):
            await self.send(text_data=json.dumps(envelope["message"]))

    async def _send_events(self, events: list[tuple[dict, float]]) -> None:
        now = time.time()
        for job_id in [job_id for job_id, deadline in self._sent.items() if deadline < now]:
            del self._sent[job_id]
        fresh = [(event, deadline) for event, deadline in events if event["job_id"] not in self._sent]
        # Marked before the first await, so a relayed copy arriving meanwhile is not sent again.
        self._sent.update((event["job_id"], deadline) for event, deadline in fresh)
        for event, _ in fresh:
            await self.send(text_data=json.dumps(event))
        if fresh:
            # Counted beside the relay's fan-out, which a database round trip would hold up.
            count = database_sync_to_async(clients.client_deliveries_sent)(job_ids=[e["job_id"] for e, _ in fresh])
            task = asyncio.ensure_future(count)
            self._counting.add(task)
            task.add_done_callback(self._counted)

    def _counted(self, task: asyncio.Future) -> None:
        self._counting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("counting a client delivery failed: %r", task.exception())

    async def _catch_up(self) -> None:
        """Send the waiting events this socket has not sent yet, as the database has them."""
        events = await database_sync_to_async(clients.client_pending_events)(
            user_id=self.user_id, client_name=self.client_name
        )
        await self._send_events(events)

    async def _refresh(self) -> None:
        """Now and then: presence, and whatever a lost wake-up (a publish that failed) left waiting."""
        assert self.connection is not None
        while True:
            await asyncio.sleep(settings.CLIENT_SOCKET_REFRESH_SECONDS)
            try:
                await database_sync_to_async(clients.client_connection_seen)(connection_id=self.connection.pk)
                await self._catch_up()
            except Exception:
                logger.warning("refreshing client socket %s failed", self.connection.pk, exc_info=True)

    async def disconnect(self, code: int) -> None:
        self._closed = True
        for task in (self._handshake, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.role is None:
            return
        relay = get_relay()
        relay.unregister(self.user_id, self._relayed, family=CLIENTS)
        relay.unwatch_reconnect(self._catch_up)
        await self.stop_watching_revocation()
        if self.connection is not None:
            await database_sync_to_async(clients.client_connection_close)(connection_id=self.connection.pk)
