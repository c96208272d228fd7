from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditLog
from workflows import services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def heartbeat(user, name: str = "hb", **fields) -> Workflow:
    workflow, _ = services.workflow_create(
        user=user, data={"name": name, "kind": "HEARTBEAT", "payload": {}, "interval": 5, **fields}
    )
    return workflow


def create_form(**overrides) -> dict:
    return {
        "name": "ping",
        "kind": "HEARTBEAT",
        "payload": "{}",
        "timing": "interval",
        "interval": "5",
        "timezone": "UTC",
        "max_consecutive_job_failures_allowed": "3",
        "concurrency_policy": "FORBID",
        "tags": "",
        "start_at": "",
        "end_at": "",
        **overrides,
    }


def edit_form(workflow: Workflow, **overrides) -> dict:
    form = create_form(
        **{
            "name": workflow.name,
            "interval": str(workflow.interval or ""),
            "tags": ", ".join(workflow.tags),
            "max_consecutive_job_failures_allowed": str(workflow.max_consecutive_job_failures_allowed),
            **overrides,
        }
    )
    for name in ("kind", "start_at", "end_at"):
        form.pop(name)
    return form


class _FormValues(HTMLParser):
    """What a browser would submit for the page's form, with every input left as prefilled: checked
    radios and checkboxes only, repeated names (a row editor's inputs) as lists, and nothing from
    the row templates."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._in_template = 0

    def _add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        name = attr.get("name")
        if tag == "template":
            self._in_template += 1
        if self._in_template:
            return
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            if attr.get("type") in ("radio", "checkbox") and "checked" not in attr:
                return
            self._add(name, attr.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self._add(name, "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attr:
            self._add(self._select, attr.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._in_template -= 1
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea and not self._in_template:
            self.values[self._textarea][-1] += data


def form_values(page: str) -> dict[str, list[str]]:
    parser = _FormValues()
    parser.feed(page)
    # Browsers drop the one newline that follows <textarea>.
    return {name: [value.removeprefix("\n") for value in values] for name, values in parser.values.items()}


def names_on(response) -> list[str]:
    return re.findall(r'<a href="/workflows/[0-9a-f-]{36}/">([^<]+)</a>', response.content.decode())


def test_the_pages_need_a_login(client, user):
    workflow = heartbeat(user)

    for path in ["/workflows/", "/workflows/new/", f"/workflows/{workflow.id}/", f"/workflows/{workflow.id}/edit/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path


def test_the_list_shows_only_the_users_own_workflows_newest_first(client, user, make_user):
    heartbeat(user, "older")
    heartbeat(user, "newer")
    heartbeat(make_user(), "someone-elses")
    client.force_login(user)

    response = client.get("/workflows/")

    assert response.status_code == 200
    assert names_on(response) == ["newer", "older"]
    page = response.content.decode()
    assert "every 5 min" in page
    assert "0/3" in page


def test_the_list_filters(client, user):
    heartbeat(user, "nightly-backup", tags=["backup"])
    services.workflow_create(
        user=user,
        data={"name": "hook", "kind": "WEBHOOK", "payload": {"url": "https://example.com/hook"}, "interval": 5},
    )
    stopped = heartbeat(user, "stopped")
    services.workflow_terminate(workflow=stopped)
    client.force_login(user)

    assert names_on(client.get("/workflows/?kind=WEBHOOK")) == ["hook"]
    assert names_on(client.get("/workflows/?tag=backup")) == ["nightly-backup"]
    assert names_on(client.get("/workflows/?query=BACK")) == ["nightly-backup"]
    assert names_on(client.get("/workflows/?terminated=true")) == ["stopped"]
    assert sorted(names_on(client.get("/workflows/?terminated=false"))) == ["hook", "nightly-backup"]
    assert names_on(client.get("/workflows/?build_status=FAILED")) == []


def test_bad_filters_show_a_message_instead_of_failing(client, user):
    heartbeat(user)
    client.force_login(user)

    bad_kind = client.get("/workflows/?kind=NOPE")
    bad_cursor = client.get("/workflows/?cursor=garbage")

    assert bad_kind.status_code == 400
    assert "Invalid value for &#x27;kind&#x27;" in bad_kind.content.decode()
    assert bad_cursor.status_code == 400
    assert "Malformed cursor." in bad_cursor.content.decode()


def test_the_list_pages_by_fifty_and_keeps_the_filters(client, user):
    for index in range(52):
        heartbeat(user, f"wf-{index:02d}", tags=["many"])
    client.force_login(user)

    first = client.get("/workflows/?tag=many")
    next_link = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode()).group(1).replace("&amp;", "&")
    second = client.get(f"/workflows/?{next_link}")

    assert len(names_on(first)) == 50
    assert "tag=many" in next_link
    assert names_on(second) == ["wf-01", "wf-00"]
    assert 'rel="next"' not in second.content.decode()


def test_the_list_query_count_does_not_grow_with_the_workflows(client, user):
    client.force_login(user)
    for index in range(2):
        heartbeat(user, f"wf-{index}")
    client.get("/workflows/")  # the first request of a session may load extra state

    with CaptureQueriesContext(connection) as few:
        assert client.get("/workflows/").status_code == 200
    for index in range(2, 30):
        heartbeat(user, f"wf-{index}")
    with CaptureQueriesContext(connection) as many:
        response = client.get("/workflows/")

    assert len(names_on(response)) == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_creating_an_interval_heartbeat(client, user):
    client.force_login(user)

    response = client.post("/workflows/new/", create_form(tags="ops, prod"), follow=True)

    workflow = Workflow.objects.get(user=user)
    assert response.redirect_chain[-1][0] == f"/workflows/{workflow.id}/"
    assert "created." in response.content.decode()
    assert (workflow.kind, workflow.interval, workflow.schedule) == ("HEARTBEAT", 5, None)
    assert workflow.tags == ["ops", "prod"]
    assert workflow.build_status == "COMPLETED"
    assert workflow.next_run_at is not None


def test_creating_a_cron_scheduled_webhook(client, user):
    client.force_login(user)

    response = client.post(
        "/workflows/new/",
        create_form(
            kind="WEBHOOK",
            payload='{"url": "https://example.com/hook"}',
            timing="cron",
            interval="",
            cron="*/15 * * * *",
            timezone="Europe/Paris",
        ),
    )

    workflow = Workflow.objects.get(user=user)
    assert response.status_code == 302
    assert workflow.interval is None
    assert workflow.schedule == {"cron": "*/15 * * * *"}
    assert workflow.timezone == "Europe/Paris"


def test_a_payload_that_is_not_json_is_a_form_error(client, user):
    client.force_login(user)

    response = client.post("/workflows/new/", create_form(payload="{not json"))

    assert response.status_code == 400
    assert "Not valid JSON" in response.content.decode()
    assert not Workflow.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"interval": "0"}, "greater than or equal to 1"),
        ({"payload": '{"endpoint": "ftp://x"}'}, "endpoint: Must be an http:// or https:// URL."),
        ({"timing": "cron", "cron": "not a cron"}, ""),
        ({"timezone": "Mars/Olympus"}, ""),
        ({"tags": "Bad Tag"}, "Tags are 1-64 characters"),
    ],
)
def test_the_services_rules_show_next_to_their_input_and_create_nothing(client, user, overrides, message):
    client.force_login(user)

    response = client.post("/workflows/new/", create_form(**overrides))

    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert re.search(r'<small class="error">[^<]+</small>', page), "no error next to an input"
    assert not Workflow.objects.exists()


def test_a_script_is_written_in_its_own_inputs(client, user, settings):
    settings.SCRIPT_DEFAULT_IMAGE = "chronoverse/busybox:latest"
    client.force_login(user)

    empty = client.post("/workflows/new/", create_form(kind="script", payload="", script="  "))
    created = client.post("/workflows/new/", create_form(kind="script", payload="", script="echo hello"))

    assert empty.status_code == 400
    page = empty.content.decode()
    script_input = page[page.index('id="field-script"') : page.index("</div>", page.index('id="field-script"'))]
    assert '<small class="error">A non-empty string of shell commands is required.</small>' in script_input
    assert created.status_code == 302, created.content.decode()[-2000:]
    workflow = Workflow.objects.get()
    assert (workflow.kind, workflow.payload) == (
        "CONTAINER",
        {"image": "chronoverse/busybox:latest", "command": ["sh", "-c", "echo hello"]},
    )
    assert '<option value="script">Script</option>' in client.get("/workflows/new/").content.decode()


def test_the_detail_shows_the_workflow(client, user):
    workflow = heartbeat(user, tags=["ops"], payload={"endpoint": "https://example.com/health"})
    client.force_login(user)

    page = client.get(f"/workflows/{workflow.id}/").content.decode()

    assert str(workflow.id) in page
    assert "https://example.com/health" in page
    assert "COMPLETED" in page
    assert "HEARTBEAT workflows need no build." in page


def test_another_users_workflow_is_not_found(client, user, make_user):
    workflow = heartbeat(make_user())
    client.force_login(user)

    for path in ["", "edit/"]:
        assert client.get(f"/workflows/{workflow.id}/{path}").status_code == 404
    for action in ["terminate", "delete", "rebuild"]:
        assert client.post(f"/workflows/{workflow.id}/{action}/").status_code == 404
    workflow.refresh_from_db()
    assert workflow.terminated_at is None


def test_terminating_from_the_detail_page(client, user):
    workflow = heartbeat(user)
    client.force_login(user)

    response = client.post(f"/workflows/{workflow.id}/terminate/", follow=True)

    workflow.refresh_from_db()
    assert workflow.terminated_at is not None
    assert workflow.termination_reason == "manual"
    assert "Workflow terminated." in response.content.decode()
    assert client.get(f"/workflows/{workflow.id}/terminate/").status_code == 405


def test_deleting_from_the_detail_page(client, user):
    workflow = heartbeat(user, "doomed")
    client.force_login(user)

    response = client.post(f"/workflows/{workflow.id}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == "/workflows/"
    assert "deleted." in response.content.decode()
    assert not Workflow.objects.filter(pk=workflow.pk).exists()


def test_rebuilding_a_non_container_workflow_shows_the_conflict(client, user):
    workflow = heartbeat(user)
    client.force_login(user)

    response = client.post(f"/workflows/{workflow.id}/rebuild/", follow=True)

    assert "Only CONTAINER workflows have a build." in response.content.decode()


def test_the_edit_form_is_prefilled_and_saves_what_changed(client, user):
    workflow = heartbeat(user, "before", tags=["a"])
    client.force_login(user)

    form = client.get(f"/workflows/{workflow.id}/edit/").content.decode()
    response = client.post(
        f"/workflows/{workflow.id}/edit/",
        edit_form(workflow, name="after", timing="rrule", rrule="FREQ=DAILY"),
    )

    assert 'value="before"' in form
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.name == "after"
    assert (workflow.interval, workflow.schedule) == (None, {"rrule": "FREQ=DAILY"})
    assert workflow.tags == ["a"]
    # Only the inputs that changed were sent, so the audit names just those.
    update = AuditLog.objects.get(action="workflow.updated", target_id=str(workflow.id))
    assert update.details == {"changes": ["interval", "name", "schedule"]}


def test_the_prefilled_edit_form_sent_back_unchanged_changes_nothing(client, user):
    workflow, _ = services.workflow_create(
        user=user,
        data={
            "name": "hook",
            "kind": "WEBHOOK",
            "payload": {"url": "https://example.com/hook", "headers": {"X-A": "1"}},
            "schedule": {"cron": "0 9 * * 1-5"},
            "timezone": "Europe/Paris",
            "tags": ["ops", "prod"],
            "concurrency_policy": "ALLOW",
        },
    )
    client.force_login(user)

    values = form_values(client.get(f"/workflows/{workflow.id}/edit/").content.decode())
    response = client.post(f"/workflows/{workflow.id}/edit/", values, follow=True)

    assert values["timing"] == ["cron"]
    assert values["cron"] == ["0 9 * * 1-5"]
    assert values["editor"] == ["fields"]
    assert (values["wh_headers_name"], values["wh_headers_value"]) == (["X-A"], ["1"])
    assert "Nothing changed." in response.content.decode()
    before = workflow.updated_at
    workflow.refresh_from_db()
    assert workflow.updated_at == before


def test_an_invalid_edit_shows_the_error_and_keeps_the_workflow(client, user):
    workflow = heartbeat(user)
    client.force_login(user)

    response = client.post(f"/workflows/{workflow.id}/edit/", edit_form(workflow, interval="0"))

    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    workflow.refresh_from_db()
    assert workflow.interval == 5


def test_a_terminated_workflow_cannot_be_edited(client, user):
    workflow = heartbeat(user, "frozen")
    services.workflow_terminate(workflow=workflow)
    client.force_login(user)

    page = client.get(f"/workflows/{workflow.id}/edit/")
    posted = client.post(f"/workflows/{workflow.id}/edit/", edit_form(workflow, name="thawed"))

    assert page.status_code == 409
    assert "cannot be changed" in page.content.decode()
    assert '<form method="post" class="stacked"' not in page.content.decode()
    assert posted.status_code == 409
    workflow.refresh_from_db()
    assert workflow.name == "frozen"


def test_the_dashboard_home_shows_the_latest_five_workflows(client, user):
    for index in range(7):
        heartbeat(user, f"wf-{index}")
    client.force_login(user)

    response = client.get("/")

    assert names_on(response) == ["wf-6", "wf-5", "wf-4", "wf-3", "wf-2"]
    assert 'href="/workflows/"' in response.content.decode()
