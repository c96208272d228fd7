"""Client sockets: WEBSOCKET jobs delivered to the user's own connected clients, which acknowledge
them (the contract's "Client sockets"). The socket itself is jobs.consumers.ClientSocketConsumer.

A WEBSOCKET job waits RUNNING under the CLIENT_WORKER from its start, its lease being its ack
deadline (start + ack_timeout); its event is published once that commits (jobs.services.clients_wait).
Postgres is the truth and Redis only the wake-up: a client that connects, a socket whose relay was
away from Redis, and every socket now and then read the user's waiting jobs here, so an event due
while no client was connected, or published while Redis was down, still reaches the first client
of its name before the deadline. The first ack completes the job (a conditional update: later
acks match nothing); past the deadline the tick fails it in one query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from jobs import services
from jobs.client_events import client_event
from jobs.models import CLIENT_WORKER, ClientConnection, ClientDelivery, Job, JobStatus
from jobs.outcome import Outcome
from jobs.rollups import atomic_with_rollups
from workflows.models import ack_timeout

# At most this many waiting events are sent to a socket at once (the oldest first).
MAX_PENDING = 500


def no_ack_error(seconds: int) -> str:
    return f"no acknowledgement within {seconds} s"


def client_pending_events(*, user_id, client_name: str, now: datetime | None = None) -> list[tuple[dict, float]]:
    """The events of the user's jobs waiting for an ack from clients of this name, oldest first,
    each with its deadline (a POSIX timestamp)."""
    now = now or timezone.now()
    jobs = (
        Job.objects.select_related("workflow")
        .filter(
            status=JobStatus.RUNNING,
            worker=CLIENT_WORKER,
            lease_expires_at__gt=now,
            user_id=user_id,
            delivery__client_name=client_name,
        )
        .order_by("scheduled_at", "id")[:MAX_PENDING]
    )
    return [(client_event(job, job.workflow), (job.lease_expires_at or now).timestamp()) for job in jobs]


def client_deliveries_sent(*, job_ids: list) -> None:
    """Count a sending of these jobs' events to one more socket."""
    ClientDelivery.objects.filter(pk__in=job_ids).update(sent_count=F("sent_count") + 1)


def client_ack(*, user_id, client_name: str, job_id, connection: ClientConnection) -> bool:
    """Complete a waiting job acknowledged by a client of its name; False if it is not (or no
    longer) one: another user's, another name's, already acked, failed or canceled."""
    # The rollups of the job's end go in last, after the delivery row (see jobs.rollups).
    with atomic_with_rollups():
        job = (
            Job.objects.select_related("workflow", "user")
            .filter(
                pk=job_id,
                user_id=user_id,
                status=JobStatus.RUNNING,
                worker=CLIENT_WORKER,
                delivery__client_name=client_name,
            )
            .first()
        )
        # The conditional update inside job_finish decides between racing acks: one matches.
        if job is None or not services.job_finish(job=job, outcome=Outcome(True), worker=CLIENT_WORKER):
            return False
        ClientDelivery.objects.filter(pk=job.pk).update(acked_by=connection.label, acked_at=job.completed_at)
    return True


def client_deliveries_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Fail the jobs whose ack deadline passed: one indexed query when there are none."""
    return services.waiting_jobs_expire(
        worker=CLIENT_WORKER,
        error=lambda job: no_ack_error(ack_timeout(job.workflow.payload)),
        now=now or timezone.now(),
        limit=limit,
    )


# -- presence ----------------------------------------------------------------------------------


def client_connection_open(*, user_id, client_name: str, remote_addr: str) -> ClientConnection:
    return ClientConnection.objects.create(user_id=user_id, client_name=client_name, remote_addr=remote_addr[:64])


def client_connection_seen(*, connection_id) -> None:
    ClientConnection.objects.filter(pk=connection_id).update(last_seen_at=timezone.now())


def client_connection_close(*, connection_id) -> None:
    ClientConnection.objects.filter(pk=connection_id).delete()


def stale_before(now: datetime) -> datetime:
    """A socket not seen since then is gone: its web process died before its disconnect ran."""
    return now - timedelta(seconds=3 * settings.CLIENT_SOCKET_REFRESH_SECONDS)


def client_connections_sweep(*, now: datetime | None = None) -> int:
    """Forget the sockets of web processes that died without saying goodbye."""
    deleted, _ = ClientConnection.objects.filter(last_seen_at__lt=stale_before(now or timezone.now())).delete()
    return deleted
