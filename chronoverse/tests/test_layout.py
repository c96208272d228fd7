"""What every dashboard page shares: the favicon, the header, the error pages and the admin's
branding and search."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from chronoverse.views import server_error
from jobs.models import Job
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db


def test_the_favicon_is_served_at_the_root_and_linked_from_every_page(client):
    icon = client.get("/favicon.ico")
    page = client.get("/accounts/login/").content.decode()

    assert icon.status_code == 200
    assert icon["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert '<link rel="icon" href="/static/chronoverse/favicon.svg" type="image/svg+xml">' in page
    svg = client.get("/static/chronoverse/favicon.svg")
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"


def test_the_header_has_a_menu_button_and_the_zone_in_it(client, user):
    client.force_login(user)

    page = client.get("/").content.decode()

    assert '<button type="button" class="menu-toggle" aria-expanded="false" aria-controls="site-menu">' in page
    assert 'id="site-menu"' in page
    assert '<body data-timezone="UTC">' in page
    assert 'href="/accounts/settings/#timezone"' in page
    assert "/static/chronoverse/layout.js" in page


def test_the_404_page_uses_the_layout_and_the_api_keeps_json(client, user):
    client.force_login(user)

    page = client.get("/no/such/page/")
    api = client.get("/api/v1/no-such-endpoint")

    assert page.status_code == 404
    assert 'class="topbar"' in page.content.decode()
    assert "Go to the dashboard" in page.content.decode()
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"


def test_the_500_page_renders_without_the_request_context():
    # A bare request: no session, no user. The page must not need them (nor the database).
    response = server_error(RequestFactory().get("/somewhere/"))

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "/static/chronoverse/app.css" in response.content.decode()


def test_the_admin_is_branded_and_names_delivery_settings_properly(admin_client):
    index = admin_client.get("/admin/").content.decode()

    assert "Chronoverse administration" in index
    assert "Delivery settings" in index
    assert "settingss" not in index
    assert "API tokens" in index
    page = admin_client.get("/admin/notifications/deliverysettings/").content.decode()
    assert "settingss" not in page


def test_the_admin_finds_a_job_by_the_short_id_the_dashboard_shows(admin_client, user):
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "hb", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    jobs = [Job.objects.create(workflow=workflow, user=user, scheduled_at=timezone.now()) for _ in range(3)]
    wanted = jobs[1]
    short = str(wanted.id)[:8]

    page = admin_client.get("/admin/jobs/job/", {"q": short}).content.decode()
    with_dashes = admin_client.get("/admin/jobs/job/", {"q": str(wanted.id)[:13]}).content.decode()
    by_name = admin_client.get("/admin/jobs/job/", {"q": "hb"}).content.decode()

    assert f"/admin/jobs/job/{wanted.id}/change/" in page
    for other in (jobs[0], jobs[2]):
        if not str(other.id).startswith(short):
            assert f"/admin/jobs/job/{other.id}/change/" not in page
    assert f"/admin/jobs/job/{wanted.id}/change/" in with_dashes
    assert all(f"/admin/jobs/job/{job.id}/change/" in by_name for job in jobs)


def test_the_admin_finds_a_workflow_by_its_short_id(admin_client, user):
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "nightly", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )

    page = admin_client.get("/admin/workflows/workflow/", {"q": str(workflow.id)[:8]}).content.decode()

    assert f"/admin/workflows/workflow/{workflow.id}/change/" in page


def test_a_visitor_sees_log_in_and_sign_up_but_no_menu_button():
    page = Client().get("/accounts/login/").content.decode()

    assert "menu-toggle" not in page
    assert 'href="/accounts/signup/"' in page


def test_terminate_and_delete_ask_for_confirmation_first(client, user):
    workflow, _ = workflow_services.workflow_create(
        user=user, data={"name": "nightly", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    client.force_login(user)

    page = client.get(f"/workflows/{workflow.id}/").content.decode()

    for action in ("terminate", "delete"):
        form = next(tag for tag in page.split("<form")[1:] if f"/workflows/{workflow.id}/{action}/" in tag)
        assert "data-confirm=" in form.split(">")[0], action
