"""WEBSOCKET workflows in the dashboard and the admin: created, shown with their connected clients
and each job's delivery."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import clients, services
from jobs.models import ClientConnection, ClientDelivery, Job, JobStatus
from workflows import services as workflow_services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def websocket_workflow(user, client_name: str = "backup-agent") -> Workflow:
    workflow, _ = workflow_services.workflow_create(
        user=user,
        data={"name": "backups", "kind": "WEBSOCKET", "payload": {"client_name": client_name}, "interval": 60},
    )
    return workflow


def started(workflow: Workflow) -> Job:
    job = Job.objects.create(workflow=workflow, user=workflow.user, scheduled_at=timezone.now())
    services.clients_wait(job_ids=[job.pk], now=timezone.now())
    return Job.objects.get(pk=job.pk)


def test_a_websocket_workflow_is_created_from_the_dashboard(client, user):
    client.force_login(user)
    assert '<option value="WEBSOCKET">Websocket</option>' in client.get("/workflows/new/").content.decode()

    response = client.post(
        "/workflows/new/",
        {
            "name": "agent",
            "kind": "WEBSOCKET",
            "payload": json.dumps({"client_name": "backup-agent", "ack_timeout": 90}),
            "timing": "interval",
            "interval": "60",
            "timezone": "UTC",
            "max_consecutive_job_failures_allowed": "3",
            "concurrency_policy": "FORBID",
            "tags": "",
        },
        follow=True,
    )

    workflow = Workflow.objects.get(user=user)
    assert (workflow.kind, workflow.payload, workflow.build_status) == (
        "WEBSOCKET",
        {"client_name": "backup-agent", "ack_timeout": 90},
        "COMPLETED",
    )
    page = response.content.decode()
    assert "Connected clients" in page
    assert "none within 90 s fails it" in page


def test_a_bad_client_name_is_shown_next_to_the_payload(client, user):
    client.force_login(user)

    response = client.post(
        "/workflows/new/",
        {
            "name": "agent",
            "kind": "WEBSOCKET",
            "payload": json.dumps({"client_name": "Backup Agent"}),
            "timing": "interval",
            "interval": "60",
            "concurrency_policy": "FORBID",
        },
    )

    assert response.status_code == 400
    assert "client_name: Must be 1-64 characters of [a-z0-9_.-]." in response.content.decode()
    assert not Workflow.objects.exists()


def test_the_workflow_page_lists_the_connected_clients_and_each_jobs_delivery(client, user, make_user):
    workflow = websocket_workflow(user)
    here = clients.client_connection_open(user_id=user.pk, client_name="backup-agent", remote_addr="198.51.100.7")
    clients.client_connection_open(user_id=user.pk, client_name="other-agent", remote_addr="198.51.100.8")
    clients.client_connection_open(user_id=make_user().pk, client_name="backup-agent", remote_addr="198.51.100.9")
    gone = timezone.now() - timedelta(minutes=10)
    ClientConnection.objects.create(
        user=user, client_name="backup-agent", remote_addr="198.51.100.10", connected_at=gone, last_seen_at=gone
    )
    acked, waiting = started(workflow), started(workflow)
    clients.client_deliveries_sent(job_ids=[acked.pk])
    clients.client_deliveries_sent(job_ids=[acked.pk, waiting.pk])
    assert clients.client_ack(user_id=user.pk, client_name="backup-agent", job_id=acked.pk, connection=here)
    client.force_login(user)

    page = client.get(f"/workflows/{workflow.id}/").content.decode()

    assert "198.51.100.7" in page
    for elsewhere in ("198.51.100.8", "198.51.100.9", "198.51.100.10"):
        assert elsewhere not in page
    assert str(here.id)[:8] in page
    acked_at = ClientDelivery.objects.get(job=acked).acked_at
    assert f"sent to 2 sockets; acked by {here.label} at {acked_at:%H:%M:%S}" in page
    assert "sent to 1 socket; not acked" in page

    job_page = client.get(f"/jobs/{acked.id}/").content.decode()
    assert "Delivery" in job_page
    assert here.label in job_page
    waiting_page = client.get(f"/jobs/{waiting.id}/").content.decode()
    assert "Waits until" in waiting_page


def test_with_no_client_connected_the_page_says_so(client, user):
    workflow = websocket_workflow(user)
    client.force_login(user)

    page = client.get(f"/workflows/{workflow.id}/").content.decode()

    assert "No client connected as backup-agent." in page


def test_the_admin_shows_deliveries_and_connected_clients(admin_client, user):
    workflow = websocket_workflow(user)
    job = started(workflow)
    connection = clients.client_connection_open(user_id=user.pk, client_name="backup-agent", remote_addr="192.0.2.1")
    clients.client_ack(user_id=user.pk, client_name="backup-agent", job_id=job.pk, connection=connection)

    job_page = admin_client.get(f"/admin/jobs/job/{job.pk}/change/").content.decode()
    connections = admin_client.get("/admin/jobs/clientconnection/", {"presence": "live"}).content.decode()
    workflows = admin_client.get("/admin/workflows/workflow/", {"kind__exact": "WEBSOCKET"}).content.decode()

    assert connection.label in job_page
    assert "192.0.2.1" in connections
    assert "backups" in workflows
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
