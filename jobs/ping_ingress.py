"""The web processes' fast path for `/ping/...`: the hottest public path, answered before Django.

A ping needs no session, CSRF, middleware or URL resolution, and under load the cost that matters
is the database's: one commit per ping. So each web process parses pings on its event loop and
hands them to one thread of its own, which records every ping that arrived while the previous
batch committed in one transaction (`jobs.pings.pings_receive`). Each caller is answered only
after its ping is committed: batching never acknowledges a ping that a crash could lose.
The Django view (`jobs.views.ping_view`) serves the same paths under WSGI and the test client.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

from chronoverse.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS
from jobs import pings
from workflows.pings import KEY_SHAPE

logger = logging.getLogger(__name__)

PATH = re.compile(r"^/ping/([^/]+)(?:/([^/]+))?$")
METHODS = ("GET", "HEAD", "POST")
# Enough to carry a burst in one commit, few enough that one batch's work stays short.
MAX_BATCH = 200


class PingIngress:
    """ASGI wrapper: `/ping/...` here, everything else to `app`."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[pings.PingCall, asyncio.Future[pings.PingAnswer]]] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._drainer: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ping/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        if method not in METHODS:
            status, headers = 405, [(b"allow", ", ".join(METHODS).encode())]
        else:
            answer = await self._answer(scope, receive)
            status = answer.status
            headers = [(b"retry-after", str(max(1, round(answer.retry_after))).encode())] if status == 429 else []
        body = pings.ANSWER_TEXT.get(status, "Method not allowed").encode()
        headers += [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        HTTP_REQUESTS.labels(method, "ping", str(status)).inc()
        HTTP_REQUEST_SECONDS.labels(method, "ping").observe(time.perf_counter() - started)

    async def _answer(self, scope: dict[str, Any], receive: Callable) -> pings.PingAnswer:
        match = PATH.match(scope["path"])
        signal = pings.ping_signal(match.group(2) or "") if match else None
        # A key of the wrong shape is refused here, before any query.
        if match is None or signal is None or not KEY_SHAPE.match(match.group(1)):
            return pings.PingAnswer(404)
        kind, exit_status = signal
        headers = dict(scope.get("headers") or [])
        call = pings.PingCall(
            key=match.group(1),
            kind=kind,
            exit_status=exit_status,
            remote_addr=(scope.get("client") or ("unknown",))[0],
            user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
            body=await _read_body(receive) if scope["method"] == "POST" else b"",
        )
        return await self._enqueue(call)

    def _enqueue(self, call: pings.PingCall) -> asyncio.Future[pings.PingAnswer]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            self._loop, self._queue = loop, asyncio.Queue()
            self._executor = self._executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="pings")
            # Kept: the loop holds its tasks only weakly.
            self._drainer = loop.create_task(self._drain(self._queue, self._executor))
        future: asyncio.Future[pings.PingAnswer] = loop.create_future()
        self._queue.put_nowait((call, future))
        return future

    async def _drain(
        self,
        queue: asyncio.Queue[tuple[pings.PingCall, asyncio.Future[pings.PingAnswer]]],
        executor: ThreadPoolExecutor,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                answers = await loop.run_in_executor(executor, _receive, [call for call, _ in batch])
            except Exception:  # the loop must outlive any batch; its callers get a 500
                logger.exception("a batch of %d pings failed", len(batch))
                answers = [pings.PingAnswer(500)] * len(batch)
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():  # the caller may have gone
                    future.set_result(answer)


def _receive(calls: Sequence[pings.PingCall]) -> list[pings.PingAnswer]:
    """On the ingress thread: the batch in one transaction; if that fails, each ping on its own,
    so that one bad ping (or a database that just came back) fails no other."""
    try:
        return pings.pings_receive(calls)
    except Exception:
        logger.warning("a batch of %d pings failed; recording them one by one", len(calls), exc_info=True)
        connections.close_all()
    answers = []
    for call in calls:
        try:
            answers.append(pings.ping_receive(call))
        except Exception:
            logger.exception("a ping failed")
            connections.close_all()
            answers.append(pings.PingAnswer(500))
    return answers


async def _read_body(receive: Callable) -> bytes:
    """The first MAX_BODY_BYTES of the body; the rest is read and dropped (cut, not refused)."""
    kept, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if size < pings.MAX_BODY_BYTES:
            kept.append(chunk[: pings.MAX_BODY_BYTES - size])
            size += len(kept[-1])
        if not message.get("more_body"):
            break
    return b"".join(kept)
