from __future__ import annotations

import contextlib
import functools
import threading
import time

from django.conf import settings
from django.db import connection

from chronoverse import docker_engine, hosts
from chronoverse.docker_engine import ContainerGone, EngineUnavailable, ImageError
from jobs import selectors
from jobs.logs import LogWriter
from jobs.models import Job
from jobs.outcome import InfrastructureError, Outcome
from workflows.builds import image_ensure

# How often a waiting executor looks up from the container to notice a cancel.
WAIT_SLICE = 2.0


def _command(payload: dict) -> tuple[list[str] | None, list[str] | None]:
    """`command` replaces the image's entrypoint and `args` its command, as in Kubernetes."""
    return payload.get("command"), payload.get("args")


def volume_name(name: str, user_id) -> str:
    """The engine-side name of a user's named volume."""
    return f"cv-{user_id}-{name}"


def _scoped(volume: dict, job: Job) -> dict:
    # Named volumes live on an engine shared by every user and by the platform itself: each user
    # gets names of their own, so nobody can mount another user's data (or the platform's).
    if volume["source"].startswith("/"):
        return volume  # an operator-allow-listed host path
    return {**volume, "source": volume_name(volume["source"], job.user_id)}


def _upstream_env(job: Job) -> dict[str, str]:
    """What a job started by a dependency learns of the upstream job whose end started it."""
    upstream = selectors.job_upstream(job)
    if upstream is None:
        return {}
    return {"CHRONOVERSE_UPSTREAM_JOB_ID": str(upstream.pk), "CHRONOVERSE_UPSTREAM_STATUS": upstream.status}


def run(job: Job, payload: dict, log: LogWriter, cancel: threading.Event) -> Outcome:
    if cancel.is_set():
        return Outcome(False, "Canceled")
    entrypoint, command = _command(payload)
    # Stored payloads are clamped to the operator's current caps (new ones are refused above them).
    memory_mb = min(payload.get("memory_mb", settings.CONTAINER_DEFAULT_MEMORY_MB), settings.CONTAINER_MAX_MEMORY_MB)
    cpus = min(payload.get("cpus", settings.CONTAINER_DEFAULT_CPUS), settings.CONTAINER_MAX_CPUS)
    image = job.workflow.image_ref or payload["image"]
    try:
        network = "none"
        if payload["network"] != "none":
            network = docker_engine.network_ensure_isolated(docker_engine.jobs_network_name())
        create = functools.partial(
            docker_engine.container_create,
            image=image,
            entrypoint=entrypoint,
            command=command,
            env={**payload.get("env", {}), **_upstream_env(job)},
            working_dir=payload.get("working_dir"),
            memory_mb=memory_mb,
            cpus=cpus,
            pids_limit=settings.CONTAINER_PIDS_LIMIT,
            network=network,
            user=payload.get("user"),
            read_only=payload["read_only"],
            log_max_mb=settings.CONTAINER_ENGINE_LOG_MAX_MB,
            mounts=[_scoped(volume, job) for volume in payload.get("volumes", [])],
            labels={
                docker_engine.JOB_LABEL: str(job.id),
                docker_engine.ATTEMPT_LABEL: str(job.attempt),
                "chronoverse.workflow_id": str(job.workflow_id),
            },
        )
        try:
            container_id = create()
        except docker_engine.ImageMissing:
            _fetch_image(image)
            container_id = create()
    except (EngineUnavailable, docker_engine.ImageMissing) as exc:
        raise InfrastructureError(str(exc)) from exc
    except docker_engine.APIError as exc:
        return Outcome(False, f"The container could not be created: {exc.explanation or exc}")
    try:
        return _supervise(container_id, payload, log, cancel, memory_mb)
    finally:
        # If the engine is gone now, this host's next sweep removes the container of the finished job.
        with contextlib.suppress(EngineUnavailable):
            docker_engine.container_remove(container_id)


def _fetch_image(ref: str) -> None:
    """The first job on this host of an image built or pulled on another: pull it here (from
    IMAGE_REGISTRY for a built one). A host that cannot get it is the platform's failure, and the
    job is retried on another host."""
    try:
        image_ensure(ref)
    except (ImageError, EngineUnavailable) as exc:
        raise InfrastructureError(f"Host {hosts.this_host()} cannot get the image {ref}: {exc}") from exc


def _supervise(container_id: str, payload: dict, log: LogWriter, cancel: threading.Event, memory_mb: int) -> Outcome:
    try:
        attached = docker_engine.AttachedContainer(container_id)
    except (EngineUnavailable, ContainerGone) as exc:
        raise InfrastructureError(str(exc)) from exc
    except docker_engine.APIError as exc:
        return Outcome(False, f"The container could not start: {exc.explanation or exc}")

    def pump() -> None:
        try:
            for stream, chunk in attached.output():
                log.feed(stream, chunk)
        finally:
            connection.close()

    reader = threading.Thread(target=pump, name=f"output-{container_id[:12]}", daemon=True)
    reader.start()
    timeout = payload["timeout"]
    deadline = time.monotonic() + timeout
    try:
        exit_code = None
        while exit_code is None:
            if cancel.is_set():
                # Stopped (SIGTERM, SIGKILL after the grace) before anyone reports the job canceled:
                # a CANCELED job has no container left running.
                docker_engine.container_stop(container_id, grace=settings.CONTAINER_STOP_GRACE_SECONDS)
                reader.join(timeout=10)
                return Outcome(False, "Canceled")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.write("stderr", f"…[timeout: stopping the container after {timeout} s]")
                docker_engine.container_stop(container_id, grace=settings.CONTAINER_STOP_GRACE_SECONDS)
                reader.join(timeout=10)
                return Outcome(False, f"Timed out after {timeout} s", exit_code=None)
            exit_code = docker_engine.container_wait(container_id, timeout=min(WAIT_SLICE, remaining))
        reader.join(timeout=30)
        if exit_code == 0:
            return Outcome(True, exit_code=0)
        state = docker_engine.container_state(container_id)
        if state.get("OOMKilled"):
            return Outcome(False, f"Out of memory: the container exceeded its {memory_mb} MB limit", exit_code)
        return Outcome(False, f"Exited with code {exit_code}", exit_code)
    except (EngineUnavailable, ContainerGone) as exc:
        # A container removed under a running job is the platform's failure (or another's), never the
        # user's: the job is retried.
        raise InfrastructureError(str(exc)) from exc
    finally:
        attached.close()
