from __future__ import annotations

from celery import shared_task

from chronoverse import docker_engine
from workflows import builds


@shared_task(bind=True, max_retries=5, acks_late=True)
def build_workflow_image(self, build_id: str) -> None:
    try:
        builds.build_run(build_id=build_id)
    except docker_engine.EngineUnavailable as exc:
        # The engine being down is not the workflow's fault: wait and try again, then give up loudly.
        if self.request.retries >= self.max_retries:
            builds.build_fail_unreachable(build_id=build_id, error=str(exc))
            return
        raise self.retry(exc=exc, countdown=min(120, 5 * 2**self.request.retries)) from exc


@shared_task
def remove_workflow_images(workflow_id: str, keep: str | None = None) -> int:
    # Sent to each host's queue (chronoverse.hosts.send_to_each_host): removes from that host's engine.
    return builds.images_remove(workflow_id=workflow_id, keep=keep)


@shared_task
def requeue_stale_builds() -> int:
    stale = builds.builds_stale()
    for build in stale:
        build_workflow_image.delay(str(build.id))
    return len(stale)
