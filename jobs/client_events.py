"""What client sockets receive (the contract's "Client sockets"), and how it is published.

Both kinds of message go, after commit, to the user's channel `clients:<user_id>`, wrapped in an
envelope that says which of the user's sockets take it: `{"hook": <client_name>, "message":
event}` goes to the client-hook sockets of that name, `{"tags": [...], "message": job message}`
to the tag listeners sharing one of the tags. Each web process's relay fans the channel out to
its sockets (notifications.relay). Redis only wakes sockets up: a job waiting for its ack is in
Postgres, where a client that connects, or a socket whose relay lost Redis, reads it (jobs.clients).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import transaction

from chronoverse.redis_client import publish_many
from chronoverse.serializers import format_timestamp
from jobs.models import Job
from notifications.relay import client_channel
from workflows.models import Workflow

# (user id, envelope as JSON text)
Outgoing = tuple[object, str]


def client_event(job: Job, workflow: Workflow) -> dict:
    """The event a client hook receives for a WEBSOCKET job (and again until it acks)."""
    return {
        "type": "event",
        "job_id": str(job.id),
        "workflow_id": str(job.workflow_id),
        "workflow_name": workflow.name,
        "scheduled_at": format_timestamp(job.scheduled_at),
        "trigger": job.trigger,
        "message": workflow.payload.get("message"),
        "metadata": workflow.metadata,
        "tags": list(workflow.tags),
    }


def hook_envelope(user_id, client_name: str, event: dict, deadline: float) -> Outgoing:
    """`deadline` (the ack deadline, a POSIX timestamp) tells a socket how long to remember that
    it sent the event, so that it sends it once."""
    return user_id, json.dumps({"hook": client_name, "deadline": deadline, "message": event})


def tag_envelope(job: Job, data: dict) -> Outgoing | None:
    """A tag listener's message about a job's new status (`data`: the Job resource); None for a
    job whose workflow has no tags, which no listener can ask for."""
    workflow = job.workflow
    if not workflow.tags:
        return None
    tags = list(workflow.tags)
    message = {"type": "job", "job": data, "workflow_name": workflow.name, "tags": tags}
    return job.user_id, json.dumps({"tags": tags, "message": message})


def publish(outgoing: list[Outgoing]) -> None:
    """One round trip for a batch. A lost publish delays a client event, it does not lose it: the
    waiting job is read again from Postgres (on connect, on the relay's reconnect, periodically)."""
    publish_many(((client_channel(user_id), text) for user_id, text in outgoing), what="client socket messages")


def publish_on_commit(outgoing: Sequence[Outgoing | None]) -> None:
    messages = [item for item in outgoing if item is not None]
    if messages:
        transaction.on_commit(lambda: publish(messages), robust=True)
