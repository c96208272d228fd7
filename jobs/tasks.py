from __future__ import annotations

from celery import shared_task

from jobs import clients, pings, recovery, scheduler, services
from jobs.runner import job_execute


@shared_task(expires=10, ignore_result=True)
def scheduler_tick() -> int:
    # A tick that waited in the queue longer than `expires` is dropped: the next one does its work.
    created = scheduler.scheduler_tick()
    # Slots whose grace ran out without a ping: one indexed query a second, however many there are.
    pings.pings_expire()
    # And WEBSOCKET jobs whose ack timeout ran out: the same one query when there are none.
    clients.client_deliveries_expire()
    return created


@shared_task(acks_late=True)
def execute_job(job_id: str) -> str | None:
    return job_execute(job_id=job_id)


@shared_task(acks_late=True)
def run_heartbeats(job_ids: list[str]) -> int:
    return services.heartbeats_complete(job_ids=job_ids)


@shared_task
def reap() -> dict:
    return recovery.reap()


@shared_task
def prune_logs() -> int:
    return recovery.logs_prune()


# Sent to one host's queue (chronoverse.hosts): each touches that host's own engine.


@shared_task
def host_clean() -> int:
    return recovery.host_clean()


@shared_task(acks_late=True)
def host_salvage(job_id: str, attempt: int) -> None:
    recovery.host_salvage(job_id=job_id, attempt=attempt)


@shared_task(acks_late=True)
def host_finish_cancel(job_id: str) -> None:
    recovery.host_finish_cancel(job_id=job_id)
