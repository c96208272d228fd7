from __future__ import annotations

import pytest
from django.utils import timezone

from jobs.logs import LogWriter
from jobs.models import Job, JobLog, JobStatus
from workflows import services
from workflows.models import BuildStatus, Workflow

pytestmark = pytest.mark.django_db


def create(user, **fields) -> Workflow:
    workflow, _ = services.workflow_create(
        user=user,
        data={"name": "nightly", "kind": "HEARTBEAT", "payload": {}, "interval": 5, **fields},
    )
    return workflow


def test_the_admin_lists_filters_and_searches_workflows(admin_client, user):
    create(user)
    for path, params in [
        ("/admin/workflows/workflow/", {}),
        ("/admin/workflows/workflow/", {"kind__exact": "HEARTBEAT"}),
        ("/admin/workflows/workflow/", {"terminated": "no"}),
        ("/admin/workflows/workflow/", {"q": "night"}),
        ("/admin/workflows/idempotencykey/", {}),
        ("/admin/notifications/deliverysettings/", {}),
    ]:
        response = admin_client.get(path, params)
        assert response.status_code == 200, path
    assert "nightly" in admin_client.get("/admin/workflows/workflow/", {"q": user.email}).content.decode()


def test_the_admin_terminates_and_rebuilds(admin_client, user):
    heartbeat = create(user)
    container, _ = services.workflow_create(
        user=user,
        data={"name": "c", "kind": "CONTAINER", "payload": {"image": "chronoverse/busybox:latest"}, "interval": 5},
    )

    admin_client.post("/admin/workflows/workflow/", {"action": "terminate", "_selected_action": [str(heartbeat.pk)]})
    admin_client.post("/admin/workflows/workflow/", {"action": "rebuild", "_selected_action": [str(container.pk)]})

    heartbeat.refresh_from_db()
    container.refresh_from_db()
    assert heartbeat.terminated_at is not None
    assert container.build_generation == 2
    assert container.build_status == BuildStatus.QUEUED


def test_the_admin_page_of_a_workflow_shows_its_builds(admin_client, user):
    container, _ = services.workflow_create(
        user=user,
        data={"name": "c", "kind": "CONTAINER", "payload": {"image": "chronoverse/busybox:latest"}, "interval": 5},
    )

    page = admin_client.get(f"/admin/workflows/workflow/{container.pk}/change/")

    assert page.status_code == 200
    assert "QUEUED" in page.content.decode()


def test_deleting_a_workflow_removes_its_jobs_and_logs(auth_api, user):
    workflow = create(user)
    job = Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now(), status=JobStatus.COMPLETED)
    with LogWriter(job.pk) as log:
        log.write("stdout", "kept until the workflow goes")

    assert auth_api.delete(f"/api/v1/workflows/{workflow.pk}").status_code == 204

    assert not Job.objects.filter(pk=job.pk).exists()
    assert not JobLog.objects.filter(job_id=job.pk).exists()
