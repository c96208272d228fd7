"""Following a job live: replay what is stored, then relay what is published, until the job ends.

Used by the SSE endpoint, the WebSocket consumer and `manage.py run_workflow`. It subscribes
before it replays, and skips any published line it already replayed, so a line written between
the two is neither lost nor shown twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from jobs.logs import LogLine, log_channel
from jobs.models import FINISHED, Job, JobLog
from jobs.services import job_status_data

REPLAY_CHUNK = 1000
# A follower that hears nothing for this long re-reads the job, so a missed `end` cannot hang it.
IDLE_CHECK_SECONDS = 5.0


@sync_to_async
def _stored_after(job_id, sequence: int) -> list[dict]:
    rows = JobLog.objects.filter(job_id=job_id, sequence__gt=sequence).order_by("sequence")[:REPLAY_CHUNK]
    return [LogLine.of(row).as_dict() for row in rows]


@sync_to_async
def _job_data(job_id) -> dict | None:
    job = Job.objects.filter(pk=job_id).first()
    return job_status_data(job) if job else None


async def follow(
    job_id, *, after: int = 0, idle_check: float = IDLE_CHECK_SECONDS
) -> AsyncIterator[tuple[str, dict | None]]:
    """Yields ("log", Log) for the lines after sequence `after`, ("status", Job) and finally
    ("end", Job); ("ping", None) while idle."""
    client = aioredis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    await pubsub.subscribe(log_channel(job_id))
    last = after

    async def replay() -> AsyncIterator[tuple[str, dict]]:
        nonlocal last
        while True:
            lines = await _stored_after(job_id, last)
            for line in lines:
                last = line["sequence"]
                yield "log", line
            if len(lines) < REPLAY_CHUNK:
                return

    try:
        async for item in replay():
            yield item
        job = await _job_data(job_id)
        if job is None:
            return
        yield "status", job
        if job["status"] in FINISHED:
            yield "end", job
            return
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=idle_check)
            if message is None:
                job = await _job_data(job_id)
                if job is None:
                    return
                if job["status"] in FINISHED:
                    async for item in replay():
                        yield item
                    yield "status", job
                    yield "end", job
                    return
                yield "ping", None
                continue
            event = json.loads(message["data"])
            kind, data = event["event"], event["data"]
            if kind == "logs":
                for line in data:
                    if line["sequence"] <= last:
                        continue
                    if line["sequence"] > last + 1:
                        # Lines were published before we subscribed but stored after our replay read.
                        async for item in replay():
                            yield item
                        if line["sequence"] <= last:
                            continue
                    last = line["sequence"]
                    yield "log", line
            elif kind == "status":
                yield "status", data
            elif kind == "end":
                async for item in replay():
                    yield item
                yield "end", data
                return
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
        await client.aclose()
