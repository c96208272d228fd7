"""The build pipeline against the real Docker engine (and, end to end, a real Celery worker)."""

from __future__ import annotations

import contextlib
import uuid

import docker
import pytest

from chronoverse import docker_engine
from conftest import wait_for
from notifications.models import Notification
from workflows import builds, services
from workflows.models import BuildStatus, Workflow

BUSYBOX = "chronoverse/busybox:latest"


def container(user, payload: dict, **fields) -> Workflow:
    workflow, _ = services.workflow_create(
        user=user, data={"name": "c", "kind": "CONTAINER", "payload": payload, "interval": 5, **fields}
    )
    return workflow


def _file_in_image(docker_client, ref: str, path: str) -> bytes:
    """A file's content, read from a created (never started) container: no logs involved."""
    import io
    import tarfile

    holder = docker_client.containers.create(ref, ["true"])
    try:
        stream, _ = holder.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            return archive.extractfile(archive.getmembers()[0]).read()
    finally:
        holder.remove(force=True)


def run_build(workflow: Workflow) -> Workflow:
    builds.build_run(build_id=workflow.builds.get(generation=workflow.build_generation).pk)
    workflow.refresh_from_db()
    return workflow


@pytest.mark.django_db
def test_a_local_image_completes_and_the_workflow_becomes_due(user, docker_client):
    workflow = run_build(container(user, {"image": BUSYBOX}))

    assert workflow.build_status == BuildStatus.COMPLETED
    assert workflow.image_ref == BUSYBOX
    assert workflow.next_run_at is not None
    notification = Notification.objects.get(user=user, kind="WORKFLOW_BUILD_COMPLETED")
    assert notification.payload == {"workflow_id": str(workflow.id), "workflow_name": "c", "build_status": "COMPLETED"}


@pytest.mark.django_db
def test_an_image_that_cannot_be_pulled_fails_with_the_error(user, docker_client):
    workflow = run_build(container(user, {"image": "no-such-image:tag"}))

    assert workflow.build_status == BuildStatus.FAILED
    assert workflow.build_error.startswith("Image not found: no-such-image:tag")
    assert workflow.next_run_at is None
    failed = Notification.objects.get(user=user, kind="WORKFLOW_BUILD_FAILED").payload
    assert failed["error"] == workflow.build_error
    assert failed["build_status"] == "FAILED"


@pytest.mark.django_db
def test_a_dockerfile_payload_is_built_and_tagged_per_workflow(user, docker_client):
    dockerfile = "FROM chronoverse/busybox:latest\nCOPY greeting.txt /greeting.txt\nRUN cat /greeting.txt\n"
    workflow = run_build(container(user, {"dockerfile": dockerfile, "files": {"greeting.txt": "hello from a build"}}))

    try:
        assert workflow.build_status == BuildStatus.COMPLETED, workflow.build_error
        assert workflow.image_ref == f"chronoverse-wf/{workflow.id}:1"
        assert _file_in_image(docker_client, workflow.image_ref, "/greeting.txt") == b"hello from a build"
        assert "hello from a build" in workflow.builds.get().output
    finally:
        docker_client.images.remove(workflow.image_ref, force=True)


@pytest.mark.django_db
def test_a_failing_dockerfile_reports_the_failing_steps_output(user, docker_client):
    dockerfile = "FROM chronoverse/busybox:latest\nRUN echo checking the toolchain && exit 3\n"
    workflow = run_build(container(user, {"dockerfile": dockerfile}))

    assert workflow.build_status == BuildStatus.FAILED
    assert "checking the toolchain" in workflow.build_error
    assert "returned a non-zero code: 3" in workflow.build_error
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(f"chronoverse-wf/{workflow.id}:1")


@pytest.mark.django_db
def test_a_build_runs_once_even_when_its_task_is_delivered_twice(user, docker_client):
    workflow = container(user, {"image": BUSYBOX})
    build_id = workflow.builds.get().pk

    builds.build_run(build_id=build_id)
    builds.build_run(build_id=build_id)

    assert Notification.objects.filter(user=user, kind="WORKFLOW_BUILD_COMPLETED").count() == 1


@pytest.mark.django_db
def test_a_build_overtaken_by_a_payload_change_does_not_touch_the_workflow(user, docker_client):
    workflow = container(user, {"image": BUSYBOX})
    first_build = workflow.builds.get(generation=1)
    services.workflow_update(workflow=workflow, data={"payload": {"image": "no-such-image:tag"}})

    builds.build_run(build_id=first_build.pk)

    workflow.refresh_from_db()
    first_build.refresh_from_db()
    assert first_build.status == BuildStatus.CANCELED
    assert workflow.build_status == BuildStatus.QUEUED
    assert workflow.image_ref == ""


def test_end_to_end_through_the_api_and_a_worker_with_image_cleanup_on_delete(celery_worker, auth_api, docker_client):
    dockerfile = "FROM chronoverse/busybox:latest\nRUN echo built > /built.txt\n"
    response = auth_api.post(
        "/api/v1/workflows",
        {"name": "built", "kind": "CONTAINER", "interval": 5, "payload": {"dockerfile": dockerfile}},
        format="json",
    )
    workflow_id = response.json()["id"]

    done = wait_for(
        lambda: (
            auth_api.get(f"/api/v1/workflows/{workflow_id}").json()["build_status"] in ("COMPLETED", "FAILED")
            and auth_api.get(f"/api/v1/workflows/{workflow_id}").json()
        )
    )
    assert done["build_status"] == "COMPLETED", done["build_error"]
    assert docker_client.images.list(name=f"chronoverse-wf/{workflow_id}")

    assert auth_api.delete(f"/api/v1/workflows/{workflow_id}").status_code == 204
    wait_for(lambda: not docker_client.images.list(name=f"chronoverse-wf/{workflow_id}"))


def _manifest_fetches(registry: dict) -> int:
    return sum(
        1
        for line in registry["log"].read_text().splitlines()
        if '"HEAD /v2/chronoverse-test/busybox/manifests/1 ' in line
    )


def _forget(docker_client, ref: str) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(ref, force=True)


@pytest.mark.django_db
def test_an_absent_image_is_pulled_from_its_registry(user, docker_client, local_registry):
    ref = local_registry["image"]
    _forget(docker_client, ref)

    try:
        workflow = run_build(container(user, {"image": ref}))

        assert workflow.build_status == BuildStatus.COMPLETED, workflow.build_error
        assert workflow.builds.get().output == f"Pulled image {ref}."
        assert docker_client.images.get(ref)
    finally:
        _forget(docker_client, ref)


@pytest.mark.django_db(transaction=True)
def test_concurrent_builds_of_the_same_image_pull_it_once(user, docker_client, local_registry):
    import threading

    from django.db import connection

    ref = local_registry["image"]
    _forget(docker_client, ref)
    workflows = [container(user, {"image": ref}) for _ in range(3)]
    fetches_before = _manifest_fetches(local_registry)
    start = threading.Barrier(len(workflows))

    def build(workflow: Workflow) -> None:
        start.wait()
        try:
            run_build(workflow)
        finally:
            connection.close()

    threads = [threading.Thread(target=build, args=(w,)) for w in workflows]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        _forget(docker_client, ref)

    outputs = [w.builds.get().output for w in workflows]
    assert all(Workflow.objects.get(pk=w.pk).build_status == BuildStatus.COMPLETED for w in workflows)
    assert outputs.count(f"Pulled image {ref}.") == 1, outputs
    assert _manifest_fetches(local_registry) - fetches_before == 1


@pytest.mark.django_db
def test_a_build_past_its_time_limit_fails_and_leaves_no_image(user, docker_client, settings):
    settings.WORKFLOW_BUILD_TIMEOUT = 3
    # A unique step, so no build cache from an earlier run can answer it.
    dockerfile = f"FROM chronoverse/busybox:latest\nRUN echo {uuid.uuid4()} && sleep 30\n"

    workflow = run_build(container(user, {"dockerfile": dockerfile}))

    assert workflow.build_status == BuildStatus.FAILED
    assert "timed out after 3 s" in workflow.build_error
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(f"chronoverse-wf/{workflow.id}:1")


def test_a_build_the_engine_refuses_is_the_builds_failure_not_an_outage(docker_client):
    # The engine answers 400 to a context without a Dockerfile: the build fails with that reason
    # (it was reported as the engine being down, and retried as if that would help).
    context = docker_engine.build_context("", {})

    with pytest.raises(docker_engine.ImageError, match=r"Build refused: .*cannot be empty"):
        list(docker_engine.image_build(context, tag=f"chronoverse-test-refused:{uuid.uuid4().hex[:8]}", timeout=30))
