"""Pause and resume: no automatic run while paused, manual runs still work, and resuming continues
on the workflow's own grid without running the slots that passed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditLog
from jobs.models import Job, JobTrigger
from jobs.scheduler import scheduler_tick
from notifications.models import Notification
from workflows import services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def heartbeat(user, **fields) -> Workflow:
    workflow, _ = services.workflow_create(
        user=user, data={"name": "every five", "kind": "HEARTBEAT", "payload": {}, "interval": 5, **fields}
    )
    return workflow


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("created_at").values_list("kind", flat=True))


def test_pause_and_resume_are_idempotent_notified_and_audited(auth_api, user):
    workflow = heartbeat(user)
    url = f"/api/v1/workflows/{workflow.id}"

    first = auth_api.post(f"{url}/pause")
    again = auth_api.post(f"{url}/pause")
    resumed = auth_api.post(f"{url}/resume")
    resumed_again = auth_api.post(f"{url}/resume")

    assert first.status_code == 200
    assert first.json()["paused_at"] is not None
    assert again.json()["paused_at"] == first.json()["paused_at"]
    assert resumed.status_code == 200
    assert resumed.json()["paused_at"] is None
    assert resumed_again.status_code == 200
    assert kinds(user) == ["WORKFLOW_CREATED", "WORKFLOW_PAUSED", "WORKFLOW_RESUMED"]
    actions = AuditLog.objects.filter(user=user, target_id=str(workflow.id)).values_list("action", flat=True)
    assert {"workflow.paused", "workflow.resumed"} <= set(actions)
    assert list(actions).count("workflow.paused") == 1


def test_a_paused_workflow_gets_no_job_for_an_hour_and_resumes_on_its_grid(user):
    workflow = heartbeat(user)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1)
    Workflow.objects.filter(pk=workflow.pk).update(next_run_at=start)
    services.workflow_pause(workflow=workflow)

    # An hour of ticks, one a minute: the tick's own statement leaves a paused workflow out.
    created = sum(scheduler_tick(now=start + timedelta(minutes=minute)) for minute in range(61))

    assert created == 0
    assert not Job.objects.exists()
    now = timezone.now()
    workflow = services.workflow_resume(workflow=workflow)
    # The slots of the hour are not run: the next one is the first of its grid after now.
    assert now < workflow.next_run_at <= now + timedelta(minutes=5)
    assert (workflow.next_run_at - start) % timedelta(minutes=5) == timedelta(0)
    assert scheduler_tick(now=timezone.now()) == 0
    assert scheduler_tick(now=workflow.next_run_at) == 1
    assert Job.objects.get().scheduled_at == workflow.next_run_at


def test_manual_runs_still_work_while_paused(auth_api, user):
    workflow = heartbeat(user)
    auth_api.post(f"/api/v1/workflows/{workflow.id}/pause")

    response = auth_api.post(f"/api/v1/workflows/{workflow.id}/jobs")

    assert response.status_code == 201
    assert Job.objects.get().trigger == JobTrigger.MANUAL


def test_a_terminated_workflow_cannot_be_paused_or_resumed(auth_api, user):
    workflow = heartbeat(user)
    services.workflow_terminate(workflow=workflow)

    for action in ("pause", "resume"):
        response = auth_api.post(f"/api/v1/workflows/{workflow.id}/{action}")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"


def test_another_users_workflow_is_not_found(auth_api, make_user):
    theirs = heartbeat(make_user())

    assert auth_api.post(f"/api/v1/workflows/{theirs.id}/pause").status_code == 404
    assert Workflow.objects.get(pk=theirs.pk).paused_at is None


def test_the_list_filters_on_paused(auth_api, user):
    paused = heartbeat(user, name="paused")
    heartbeat(user, name="running")
    services.workflow_pause(workflow=paused)

    def names(value: str) -> list[str]:
        return [w["name"] for w in auth_api.get(f"/api/v1/workflows?paused={value}").json()["workflows"]]

    assert names("true") == ["paused"]
    assert names("false") == ["running"]
    assert auth_api.get("/api/v1/workflows?paused=maybe").status_code == 400


def test_resuming_after_the_last_slot_passed_ends_the_schedule(user):
    at = timezone.now() + timedelta(minutes=10)
    workflow, _ = services.workflow_create(
        user=user, data={"name": "once", "kind": "HEARTBEAT", "payload": {}, "schedule": {"at": at.isoformat()}}
    )
    services.workflow_pause(workflow=workflow)
    Workflow.objects.filter(pk=workflow.pk).update(next_run_at=timezone.now() - timedelta(minutes=1))

    workflow = services.workflow_resume(workflow=workflow)

    assert workflow.termination_reason == "schedule_ended"
    assert not Job.objects.exists()


def test_the_dashboard_buttons_the_admin_actions_and_the_commands(client, admin_client, user, capsys):
    workflow = heartbeat(user)
    client.force_login(user)

    page = client.get(f"/workflows/{workflow.id}/").content.decode()
    client.post(f"/workflows/{workflow.id}/pause/")
    paused_page = client.get(f"/workflows/{workflow.id}/").content.decode()

    assert f'action="/workflows/{workflow.id}/pause/"' in page
    assert f'action="/workflows/{workflow.id}/resume/"' in paused_page
    assert 'data-badge="state" title="Workflow status">Paused</span>' in paused_page

    admin_client.post(
        "/admin/workflows/workflow/", {"action": "resume", "_selected_action": [str(workflow.pk)]}, follow=True
    )
    assert Workflow.objects.get(pk=workflow.pk).paused_at is None

    call_command("pause_workflow", str(workflow.pk))
    assert Workflow.objects.get(pk=workflow.pk).paused_at is not None
    call_command("resume_workflow", str(workflow.pk))
    assert Workflow.objects.get(pk=workflow.pk).paused_at is None
    assert "resumed" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No workflow"):
        call_command("pause_workflow", "not-an-id")
