"""The build pipeline of CONTAINER workflows: make the image a workflow's jobs will run.

A build is claimed with a conditional update (QUEUED -> STARTED), so a redelivered task is
harmless. Its result only lands on the workflow if the build is still the workflow's current
generation: a build overtaken by a payload change (CANCELED) leaves the workflow alone.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chronoverse import docker_engine, hosts, task_queue
from chronoverse.docker_engine import ImageError
from chronoverse.redis_client import get_redis
from notifications.models import NotificationKind
from workflows import live
from workflows.models import BuildStatus, TerminationReason, Workflow, WorkflowBuild, image_repository
from workflows.services import workflow_notify, workflow_plan, workflow_terminate

logger = logging.getLogger(__name__)

KEPT_OUTPUT_LINES = 2000
ERROR_TAIL_LINES = 10
# How often a running build's output is stored and sent to its user's pages: live enough to watch,
# few enough writes for a chatty Dockerfile.
PROGRESS_SECONDS = 0.5


class _Progress:
    """A running build's output: kept (the last KEPT_OUTPUT_LINES), stored on its row now and then
    so a page loaded mid-build shows it, and published live as it grows."""

    def __init__(self, build: WorkflowBuild, user_id) -> None:
        self.build, self.user_id = build, user_id
        self.output: deque[str] = deque(maxlen=KEPT_OUTPUT_LINES)
        self._new: list[str] = []
        self._sent = 0  # lines published so far
        self._last = 0.0

    def append(self, line: str) -> None:
        self.output.append(line)
        self._new.append(line)
        if time.monotonic() - self._last >= PROGRESS_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._new:
            return
        lines, self._new = self._new, []
        try:
            WorkflowBuild.objects.filter(pk=self.build.pk, status=BuildStatus.STARTED).update(
                output="\n".join(self.output)
            )
            live.build_output(
                user_id=self.user_id,
                workflow_id=self.build.workflow_id,
                build=self.build,
                lines=lines,
                offset=self._sent,
            )
        except Exception:
            # Progress is a courtesy: the build goes on, and its end stores the whole output.
            logger.warning("could not record the progress of build %s", self.build.pk, exc_info=True)
        self._sent += len(lines)


def image_ensure(ref: str) -> str:
    """Make `ref` present on this host's engine, pulling it if need be; says which it was. Builds
    and jobs on one host needing the same image at once pull it once (each host has its own)."""
    if docker_engine.image_present(ref):
        return f"Image {ref} is present locally."
    timeout = settings.IMAGE_PULL_TIMEOUT
    lock = f"lock:image-pull:{hosts.this_host()}:{ref}"
    with get_redis().lock(lock, timeout=timeout + 60, blocking_timeout=timeout + 60):
        if docker_engine.image_present(ref):
            return f"Image {ref} was pulled by another build."
        docker_engine.image_pull(ref, timeout=timeout)
    return f"Pulled image {ref}."


def built_repository(workflow_id) -> str:
    """Where a workflow's Dockerfile builds are tagged: in IMAGE_REGISTRY when there is one, so that
    every worker host can pull them (docs/scaling.md)."""
    repository = image_repository(workflow_id)
    return f"{settings.IMAGE_REGISTRY}/{repository}" if settings.IMAGE_REGISTRY else repository


def images_remove(*, workflow_id, keep: str | None = None) -> int:
    """Remove a workflow's built images from this host's engine, but `keep`; returns how many. Both
    names are tried: images built before IMAGE_REGISTRY was set (or changed) are found too."""
    removed = 0
    for repository in {image_repository(workflow_id), built_repository(workflow_id)}:
        removed += docker_engine.images_remove_repository(repository, keep=keep)
    return removed


def build_run(*, build_id) -> None:
    """Run one queued build to COMPLETED or FAILED. Raises EngineUnavailable (the build is
    re-queued) when the engine cannot be reached, so the caller may retry later."""
    now = timezone.now()
    if not WorkflowBuild.objects.filter(pk=build_id, status=BuildStatus.QUEUED).update(
        status=BuildStatus.STARTED, started_at=now
    ):
        return
    build = WorkflowBuild.objects.select_related("workflow").get(pk=build_id)
    workflow = build.workflow
    Workflow.objects.filter(pk=workflow.pk, build_generation=build.generation, terminated_at__isnull=True).update(
        build_status=BuildStatus.STARTED, updated_at=now
    )
    live.workflow_changed(workflow.pk)
    progress = _Progress(build, workflow.user_id)
    output = progress.output
    try:
        if "image" in workflow.payload:
            ref = workflow.payload["image"]
            progress.append(image_ensure(ref))
            progress.flush()
        else:
            ref = f"{built_repository(workflow.pk)}:{build.generation}"
            context = docker_engine.build_context(workflow.payload["dockerfile"], workflow.payload.get("files", {}))
            for line in docker_engine.image_build(context, tag=ref, timeout=settings.WORKFLOW_BUILD_TIMEOUT):
                progress.append(line)
            if settings.IMAGE_REGISTRY:
                # Built once, here; every other host pulls these very bytes on its first job of it.
                progress.flush()
                docker_engine.image_push(ref, timeout=settings.IMAGE_PULL_TIMEOUT)
                progress.append(f"Pushed {ref}.")
            progress.flush()
    except ImageError as exc:
        tail = list(output)[-ERROR_TAIL_LINES:]
        error = "\n".join([*tail, str(exc)]) if "dockerfile" in workflow.payload else str(exc)
        build_finish(build=build, status=BuildStatus.FAILED, output="\n".join(output), error=error)
    except docker_engine.EngineUnavailable:
        WorkflowBuild.objects.filter(pk=build.pk, status=BuildStatus.STARTED).update(
            status=BuildStatus.QUEUED, started_at=None
        )
        raise
    else:
        build_finish(build=build, status=BuildStatus.COMPLETED, output="\n".join(output), image_ref=ref)


def build_finish(*, build: WorkflowBuild, status: str, output: str = "", error: str = "", image_ref: str = "") -> None:
    now = timezone.now()
    with transaction.atomic():
        if not WorkflowBuild.objects.filter(pk=build.pk, status__in=[BuildStatus.STARTED, BuildStatus.QUEUED]).update(
            status=status, output=output, error=error, image_ref=image_ref, finished_at=now
        ):
            # Canceled while running: what it built belongs to nobody.
            if image_ref and "dockerfile" in build.workflow.payload:
                transaction.on_commit(lambda: _remove_image_quietly(image_ref), robust=True)
            return
        workflow = Workflow.objects.select_for_update().select_related("user").get(pk=build.workflow_id)
        if workflow.build_generation != build.generation or workflow.is_terminated:
            return
        live.workflow_changed(workflow.pk)
        workflow.build_status = status
        workflow.build_error = error
        workflow.image_ref = image_ref
        workflow.next_run_at = workflow_plan(workflow).first_run(now) if status == BuildStatus.COMPLETED else None
        workflow.save(update_fields=["build_status", "build_error", "image_ref", "next_run_at", "updated_at"])
        if status == BuildStatus.COMPLETED:
            workflow_notify(workflow, NotificationKind.WORKFLOW_BUILD_COMPLETED, build_status=status)
            if workflow.next_run_at is None and workflow.runs_on_clock:
                workflow_terminate(workflow=workflow, reason=TerminationReason.SCHEDULE_ENDED)
        else:
            workflow_notify(workflow, NotificationKind.WORKFLOW_BUILD_FAILED, build_status=status, error=error)
    # Older images of this workflow are no longer needed once a newer one is in place.
    if status == BuildStatus.COMPLETED and "dockerfile" in workflow.payload:
        transaction.on_commit(lambda: _remove_older_images(workflow, keep=image_ref), robust=True)


def build_fail_unreachable(*, build_id, error: str) -> None:
    """Give up on a build after the engine stayed unreachable through every retry."""
    build = WorkflowBuild.objects.select_related("workflow").filter(pk=build_id).first()
    if build is not None:
        build_finish(build=build, status=BuildStatus.FAILED, error=error)


def _remove_image_quietly(ref: str) -> None:
    try:
        docker_engine.image_remove(ref)
    except Exception:
        logger.warning("could not remove image %s", ref, exc_info=True)


def _remove_older_images(workflow: Workflow, *, keep: str) -> None:
    # On every host: each that ran a job of an older build pulled its image.
    try:
        hosts.send_to_each_host(task_queue.REMOVE_WORKFLOW_IMAGES, str(workflow.pk), keep)
    except Exception:
        logger.warning("could not ask the hosts to remove older images of %s", workflow.pk, exc_info=True)


def builds_stale(*, now=None) -> list[WorkflowBuild]:
    """Builds whose worker died (STARTED for longer than any build may take), or whose task message
    was lost (QUEUED for a long time), put back in the queue; returns the builds to send again."""
    now = now or timezone.now()
    started_cutoff = now - timedelta(seconds=settings.WORKFLOW_BUILD_TIMEOUT + settings.IMAGE_PULL_TIMEOUT + 120)
    WorkflowBuild.objects.filter(status=BuildStatus.STARTED, started_at__lt=started_cutoff).update(
        status=BuildStatus.QUEUED, started_at=None
    )
    return list(WorkflowBuild.objects.filter(status=BuildStatus.QUEUED, created_at__lt=now - timedelta(minutes=5)))
