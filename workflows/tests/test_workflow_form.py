"""The guided create and edit forms (fields per kind and per timing, the JSON view) and the
schedule preview they ask while the user types."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from workflows import services
from workflows.models import Workflow
from workflows.tests.test_dashboard import form_values

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def guided(**overrides) -> dict:
    """A create form as the page sends it with the fields view: only the chosen kind's and timing's
    inputs (the script disables the others)."""
    return {
        "name": "guided",
        "description": "",
        "kind": "HEARTBEAT",
        "editor": "fields",
        "hb_mode": "tick",
        "timing": "interval",
        "interval": "5",
        "timezone": "UTC",
        "max_consecutive_job_failures_allowed": "3",
        "concurrency_policy": "FORBID",
        "tags": "",
        "metadata": "{}",
        "start_at": "",
        "end_at": "",
        **overrides,
    }


def create(client, **overrides) -> Workflow:
    response = client.post("/workflows/new/", guided(**overrides))
    assert response.status_code == 302, response.content.decode()[-3000:]
    return Workflow.objects.get(name=overrides.get("name", "guided"))


def field_block(page: str, name: str) -> str:
    """The HTML of one input's block (label, input, help, errors)."""
    start = page.index(f'id="field-{name}"')
    end = page.find('class="field', start + 1)
    return page[start : end if end != -1 else len(page)]


def errors_of(page: str, name: str) -> list[str]:
    return re.findall(r'<small class="error">([^<]+)</small>', field_block(page, name))


# Creating each kind through its fields


def test_a_heartbeat_http_check_from_its_fields(client, user):
    client.force_login(user)

    workflow = create(
        client,
        hb_mode="endpoint",
        hb_endpoint="https://example.com/health",
        hb_method="HEAD",
        hb_expected_status_code="204",
        hb_timeout="",
        hb_headers_name=["X-Token", ""],
        hb_headers_value=["abc", ""],
    )

    assert workflow.payload == {
        "endpoint": "https://example.com/health",
        "method": "HEAD",
        "expected_status_code": 204,
        "headers": {"X-Token": "abc"},
    }


@pytest.mark.parametrize(
    ("inputs", "payload"),
    [
        ({"hb_mode": "tick"}, {}),
        ({"hb_mode": "ping", "hb_ping_grace": "120"}, {"ping": {"grace": 120}}),
        ({"hb_mode": "ping", "hb_ping_grace": ""}, {"ping": {}}),
    ],
)
def test_a_heartbeat_tick_or_ping_from_its_fields(client, user, inputs, payload):
    client.force_login(user)

    assert create(client, **inputs).payload == payload


def test_a_container_from_an_image_with_lists_env_volumes_and_limits(client, user):
    client.force_login(user)

    workflow = create(
        client,
        kind="CONTAINER",
        ct_source="image",
        ct_image="chronoverse/busybox:latest",
        ct_command=["sh", "-c", "echo $MODE", ""],
        ct_args=[""],
        ct_env_name=["MODE", "", "LEVEL"],
        ct_env_value=["nightly", "", "3"],
        ct_volumes_source=["cache", ""],
        ct_volumes_target=["/cache", ""],
        ct_volumes_mode=["ro", "rw"],
        ct_timeout="60",
        ct_memory_mb="64",
        ct_cpus="0.5",
        ct_network="none",
        ct_working_dir="/tmp",
        ct_user="1000:1000",
        ct_read_only="on",
    )

    assert workflow.payload == {
        "image": "chronoverse/busybox:latest",
        "command": ["sh", "-c", "echo $MODE"],
        "env": {"MODE": "nightly", "LEVEL": "3"},
        "working_dir": "/tmp",
        "timeout": 60,
        "memory_mb": 64,
        "cpus": 0.5,
        "network": "none",
        "volumes": [{"source": "cache", "target": "/cache", "read_only": True}],
        "user": "1000:1000",
        "read_only": True,
    }
    assert workflow.build_status == "QUEUED"


def test_a_container_from_a_dockerfile_and_its_files(client, user):
    client.force_login(user)

    workflow = create(
        client,
        kind="CONTAINER",
        ct_source="dockerfile",
        ct_image="ignored/when:dockerfile",
        ct_dockerfile='FROM chronoverse/busybox:latest\r\nCOPY run.sh /run.sh\r\nCMD ["sh", "/run.sh"]\r\n',
        ct_files_name=["run.sh"],
        ct_files_content=["echo hello\r\necho done\r\n"],
    )

    assert workflow.payload == {
        "dockerfile": 'FROM chronoverse/busybox:latest\nCOPY run.sh /run.sh\nCMD ["sh", "/run.sh"]\n',
        "files": {"run.sh": "echo hello\necho done\n"},
    }


def test_a_webhook_from_its_fields(client, user):
    client.force_login(user)

    workflow = create(
        client,
        kind="WEBHOOK",
        wh_url="https://example.com/hook",
        wh_method="PUT",
        wh_headers_name=["Authorization"],
        wh_headers_value=["Bearer x"],
        wh_body_format="json",
        wh_body='{"event": "tick"}',
        wh_timeout="20",
        wh_expected_status_codes="200, 204",
        wh_retries="0",
        wh_secret="s3cret",
    )

    assert workflow.payload == {
        "url": "https://example.com/hook",
        "method": "PUT",
        "headers": {"Authorization": "Bearer x"},
        "body": {"event": "tick"},
        "timeout": 20,
        "expected_status_codes": [200, 204],
        "retries": 0,
        "secret": "s3cret",
    }


def test_a_websocket_from_its_fields(client, user):
    client.force_login(user)

    workflow = create(
        client,
        kind="WEBSOCKET",
        ws_client_name="backup-agent",
        ws_message_format="text",
        ws_message="run the backup",
        ws_ack_timeout="90",
    )

    assert workflow.payload == {"client_name": "backup-agent", "message": "run the backup", "ack_timeout": 90}


def test_a_script_from_its_fields(client, user, settings):
    settings.SCRIPT_DEFAULT_IMAGE = "chronoverse/busybox:latest"
    client.force_login(user)

    workflow = create(client, kind="script", script="echo one\r\necho two")

    assert workflow.payload == {"image": "chronoverse/busybox:latest", "command": ["sh", "-c", "echo one\necho two"]}


def test_the_json_view_is_read_instead_of_the_fields_when_chosen(client, user):
    client.force_login(user)

    workflow = create(
        client,
        kind="WEBHOOK",
        editor="json",
        payload='{"url": "https://example.com/from-json", "retries": 1}',
        wh_url="https://example.com/from-fields",
    )

    assert workflow.payload == {"url": "https://example.com/from-json", "retries": 1}


# Timings


def test_a_recurrence_from_its_fields(client, user):
    client.force_login(user)

    workflow = create(
        client,
        timing="recurrence",
        interval="",
        rec_frequency="weekly",
        rec_interval="2",
        rec_by_day=["FR", "MO"],
        rec_by_hour="17, 9",
        rec_by_minute="0",
        timezone="Europe/Berlin",
    )

    assert workflow.schedule == {
        "frequency": "weekly",
        "interval": 2,
        "by_day": ["MO", "FR"],
        "by_hour": [9, 17],
        "by_minute": [0],
    }
    assert workflow.interval is None


def test_a_one_time_run_is_a_local_time_in_the_chosen_timezone(client, user):
    client.force_login(user)

    workflow = create(client, timing="at", at="2031-07-01T09:30", timezone="Europe/Paris")

    assert workflow.schedule == {"at": "2031-07-01T07:30:00.000Z"}
    assert workflow.next_run_at == datetime(2031, 7, 1, 9, 30, tzinfo=PARIS)


def test_start_and_end_are_local_times_in_the_chosen_timezone(client, user):
    client.force_login(user)

    workflow = create(client, timezone="Europe/Paris", start_at="2031-01-10T08:00", end_at="2031-02-10T08:00")

    assert workflow.start_at == datetime(2031, 1, 10, 7, 0, tzinfo=ZoneInfo("UTC"))
    assert workflow.end_at == datetime(2031, 2, 10, 7, 0, tzinfo=ZoneInfo("UTC"))


def test_a_dependency_picks_the_upstream_among_the_users_workflows(client, user, make_user):
    upstream, _ = services.workflow_create(
        user=user, data={"name": "upstream", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    services.workflow_create(
        user=make_user(), data={"name": "someone-elses", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )
    client.force_login(user)

    page = client.get("/workflows/new/").content.decode()
    workflow = create(client, name="downstream", timing="after", after=str(upstream.id), after_on="FINISHED")

    assert f'<option value="{upstream.id}">upstream (heartbeat)</option>' in page
    assert "someone-elses" not in page
    assert workflow.schedule == {"after": str(upstream.id), "on": "FINISHED"}
    assert workflow.upstream == upstream


# Errors


def test_every_problem_shows_at_once_next_to_its_input_and_the_inputs_are_kept(client, user):
    client.force_login(user)

    response = client.post(
        "/workflows/new/",
        guided(
            name="",
            hb_mode="endpoint",
            hb_endpoint="ftp://example.com",
            hb_timeout="soon",
            timing="cron",
            cron="61 * * * *",
            tags="Bad Tag",
            metadata="{not json",
            timezone="Europe/Paris",
        ),
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert not Workflow.objects.exists()
    assert errors_of(page, "name") == ["This field is required."]
    assert errors_of(page, "hb_endpoint") == ["Must be an http:// or https:// URL."]
    assert errors_of(page, "hb_timeout") == ["Enter a whole number."]
    assert errors_of(page, "cron") == ["Invalid cron expression &#x27;61 * * * *&#x27;."]
    assert "Tags are 1-64 characters" in errors_of(page, "tags")[0]
    assert "Not valid JSON" in errors_of(page, "metadata")[0]
    assert 'role="alert"' in page
    values = form_values(page)
    assert values["hb_endpoint"] == ["ftp://example.com"]
    assert values["hb_mode"] == ["endpoint"]
    assert values["cron"] == ["61 * * * *"]
    assert values["timing"] == ["cron"]
    assert values["timezone"] == ["Europe/Paris"]
    assert values["metadata"] == ["{not json"]


def test_a_rows_problems_name_the_row_and_the_rows_are_kept(client, user):
    client.force_login(user)

    response = client.post(
        "/workflows/new/",
        guided(
            kind="CONTAINER",
            ct_source="image",
            ct_image="Not An Image",
            ct_env_name=["GOOD", "1BAD"],
            ct_env_value=["1", "2"],
            ct_volumes_source=["cache"],
            ct_volumes_target=["relative/path"],
            ct_volumes_mode=["rw"],
            ct_command=["echo", "x" * 9000],
        ),
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Must be an image reference" in errors_of(page, "ct_image")[0]
    assert errors_of(page, "ct_env") == ["Invalid variable names: 1BAD."]
    assert errors_of(page, "ct_volumes") == ["Row 1, target: Must be an absolute path inside the container."]
    assert errors_of(page, "ct_command") == ["Item 2: Ensure this field has no more than 8192 characters."]
    values = form_values(page)
    assert values["ct_env_name"] == ["GOOD", "1BAD"]
    assert values["ct_volumes_target"] == ["relative/path"]


def test_a_key_given_twice_is_refused(client, user):
    client.force_login(user)

    response = client.post(
        "/workflows/new/",
        guided(
            kind="WEBHOOK", wh_url="https://example.com", wh_headers_name=["X-A", "X-A"], wh_headers_value=["1", "2"]
        ),
    )

    assert response.status_code == 400
    assert errors_of(response.content.decode(), "wh_headers") == ["&#x27;X-A&#x27; is given twice."]


def test_a_recurrence_problem_names_the_bad_value(client, user):
    client.force_login(user)

    response = client.post(
        "/workflows/new/", guided(timing="recurrence", rec_frequency="daily", rec_by_hour="9, 25", rec_by_minute="x")
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert errors_of(page, "rec_by_minute") == ["Whole numbers separated by commas, e.g. 9, 17."]
    assert errors_of(page, "rec_by_hour") == ["25: Must be an hour, an integer from 0 to 23."]


def test_the_hint_and_the_fields_shown_follow_the_chosen_kind(client, user):
    client.force_login(user)

    new = client.get("/workflows/new/").content.decode()
    failed = client.post("/workflows/new/", guided(kind="WEBHOOK", wh_url="")).content.decode()

    def hidden(page: str, marker: str) -> bool:
        tag = page[page.index(marker) : page.index(">", page.index(marker))]
        return " hidden" in tag

    assert not hidden(new, 'class="hint" data-show-when="kind=HEARTBEAT"')
    assert hidden(new, 'class="hint" data-show-when="kind=WEBHOOK"')
    assert hidden(failed, 'class="hint" data-show-when="kind=HEARTBEAT"')
    assert not hidden(failed, 'class="hint" data-show-when="kind=WEBHOOK"')
    assert not hidden(failed, 'class="kind-fields" data-show-when="kind=WEBHOOK"')


def test_every_input_has_a_label(client, user):
    client.force_login(user)

    page = client.get("/workflows/new/").content.decode()
    page = re.sub(r"<template.*?</template>", "", page, flags=re.S)
    start = page.index('<form method="post" class="workflow-form"')
    form = page[start : page.index("</form>", start)]
    labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', form))

    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]* id="([^"]+)"', form)
    assert ids
    assert [name for name in ids if name not in labelled] == []


# Editing


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("HEARTBEAT", {"endpoint": "https://example.com/h", "method": "GET", "headers": {"X-A": "1"}}),
        ("HEARTBEAT", {"ping": {"grace": 60}}),
        (
            "CONTAINER",
            {
                "dockerfile": "FROM chronoverse/busybox:latest\n",
                "files": {"a.txt": "one\ntwo"},
                "command": ["sh", "-c", "cat a.txt"],
                "env": {"A": "1"},
                "volumes": [{"source": "cache", "target": "/cache", "read_only": False}],
                "network": "bridge",
                "read_only": False,
            },
        ),
        ("WEBHOOK", {"url": "https://example.com/hook", "body": "plain", "expected_status_codes": [201]}),
        ("WEBSOCKET", {"client_name": "agent", "message": {"run": "backup"}}),
    ],
)
def test_each_kind_opens_in_its_fields_and_saving_it_untouched_changes_nothing(client, user, kind, payload):
    workflow, _ = services.workflow_create(
        user=user, data={"name": "wf", "kind": kind, "payload": payload, "schedule": {"cron": "0 9 * * *"}}
    )
    client.force_login(user)

    values = form_values(client.get(f"/workflows/{workflow.id}/edit/").content.decode())
    response = client.post(f"/workflows/{workflow.id}/edit/", values, follow=True)

    assert values["editor"] == ["fields"]
    assert "Nothing changed." in response.content.decode()
    before = (workflow.updated_at, workflow.build_generation)
    workflow.refresh_from_db()
    assert (workflow.updated_at, workflow.build_generation) == before


def test_editing_a_container_env_row_saves_the_new_payload(client, user):
    workflow, _ = services.workflow_create(
        user=user,
        data={
            "name": "wf",
            "kind": "CONTAINER",
            "payload": {"image": "chronoverse/busybox:latest", "env": {"A": "1"}},
            "interval": 5,
        },
    )
    client.force_login(user)
    values = form_values(client.get(f"/workflows/{workflow.id}/edit/").content.decode())

    response = client.post(
        f"/workflows/{workflow.id}/edit/", {**values, "ct_env_name": ["A", "B"], "ct_env_value": ["2", "3"]}
    )

    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.payload == {"image": "chronoverse/busybox:latest", "env": {"A": "2", "B": "3"}}


def test_a_payload_the_fields_cannot_hold_opens_in_the_json_view(client, user):
    # A trailing empty argument would be dropped by the list editor.
    workflow, _ = services.workflow_create(
        user=user,
        data={"name": "wf", "kind": "CONTAINER", "payload": {"image": "busybox", "args": ["x", ""]}, "interval": 5},
    )
    client.force_login(user)

    values = form_values(client.get(f"/workflows/{workflow.id}/edit/").content.decode())
    response = client.post(f"/workflows/{workflow.id}/edit/", values, follow=True)

    assert values["editor"] == ["json"]
    assert "Nothing changed." in response.content.decode()


def test_the_edit_form_keeps_the_timing_in_its_fields(client, user):
    workflow, _ = services.workflow_create(
        user=user,
        data={
            "name": "wf",
            "kind": "HEARTBEAT",
            "payload": {},
            "schedule": {"at": "2031-07-01T07:30:00Z"},
            "timezone": "Europe/Paris",
        },
    )
    client.force_login(user)

    values = form_values(client.get(f"/workflows/{workflow.id}/edit/").content.decode())
    unchanged = client.post(f"/workflows/{workflow.id}/edit/", values, follow=True)
    moved = client.post(f"/workflows/{workflow.id}/edit/", {**values, "at": "2031-07-01T10:00"})

    assert (values["timing"], values["at"]) == (["at"], ["2031-07-01T09:30"])
    assert "Nothing changed." in unchanged.content.decode()
    assert moved.status_code == 302
    workflow.refresh_from_db()
    assert workflow.schedule == {"at": "2031-07-01T08:00:00.000Z"}


def test_an_edit_shows_every_problem_at_once(client, user):
    workflow, _ = services.workflow_create(
        user=user, data={"name": "wf", "kind": "WEBHOOK", "payload": {"url": "https://example.com"}, "interval": 5}
    )
    client.force_login(user)
    values = form_values(client.get(f"/workflows/{workflow.id}/edit/").content.decode())

    response = client.post(
        f"/workflows/{workflow.id}/edit/",
        {**values, "wh_url": "nope", "timing": "rrule", "rrule": "FREQ=NEVER", "tags": "Bad Tag"},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert errors_of(page, "wh_url") == ["Must be an http:// or https:// URL."]
    assert errors_of(page, "rrule")
    assert errors_of(page, "tags")
    workflow.refresh_from_db()
    assert workflow.payload == {"url": "https://example.com"}


# The schedule preview


def preview(client, **params):
    response = client.get("/workflows/schedule-preview/", params)
    assert response.status_code == 200
    return response.json()


def test_the_preview_lists_the_next_five_cron_runs_in_the_chosen_timezone(client, user):
    client.force_login(user)

    body = preview(client, timing="cron", cron="0 9 * * *", timezone="Europe/Paris")

    assert body["valid"] is True
    assert body["timezone"] == "Europe/Paris"
    runs = [datetime.fromisoformat(run["at"].replace("Z", "+00:00")) for run in body["runs"]]
    assert len(runs) == 5
    assert all(run.astimezone(PARIS).hour == 9 for run in runs)
    assert all(later - earlier == timedelta(days=1) for earlier, later in itertools.pairwise(runs))
    assert all(", 09:00 CE" in run["local"] for run in body["runs"])


def test_the_preview_of_an_rrule_a_recurrence_and_an_interval(client, user):
    client.force_login(user)

    rrule = preview(client, timing="rrule", rrule="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0", timezone="UTC")
    recurrence = preview(
        client, timing="recurrence", rec_frequency="daily", rec_by_hour="6, 18", rec_by_minute="30", timezone="UTC"
    )
    before = timezone.now()
    interval = preview(client, timing="interval", interval="15", timezone="UTC")

    assert [run["local"][:3] for run in rrule["runs"]] == ["Mon"] * 5
    assert {run["at"][11:16] for run in recurrence["runs"]} == {"06:30", "18:30"}
    starts = [datetime.fromisoformat(run["at"].replace("Z", "+00:00")) for run in interval["runs"]]
    assert abs(starts[0] - before) < timedelta(seconds=5)
    assert [later - earlier for earlier, later in itertools.pairwise(starts)] == [timedelta(minutes=15)] * 4


def test_the_preview_of_a_one_time_run_and_of_a_dependency(client, user):
    client.force_login(user)
    upstream, _ = services.workflow_create(
        user=user, data={"name": "up", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )

    once = preview(client, timing="at", at="2031-07-01T09:30", timezone="Europe/Paris")
    after = preview(client, timing="after", after=str(upstream.id), after_on="COMPLETED", timezone="UTC")

    assert [run["at"] for run in once["runs"]] == ["2031-07-01T07:30:00.000Z"]
    assert once["runs"][0]["local"] == "Tue 01 Jul 2031, 09:30 CEST"
    assert once["note"]
    assert after["valid"] is True
    assert after["runs"] == []
    assert "No clock" in after["note"]


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"timing": "cron", "cron": "61 * * * *"}, {"cron": ["Invalid cron expression '61 * * * *'."]}),
        ({"timing": "interval", "interval": "0"}, {"interval": ["Ensure this value is greater than or equal to 1."]}),
        ({"timing": "interval", "interval": "often"}, {"interval": ["Enter a whole number."]}),
        ({"timing": "interval", "interval": ""}, {"interval": ["Enter the minutes between runs, e.g. 60."]}),
        ({"timing": "after", "after": ""}, {"after": ["Choose the workflow this one runs after."]}),
        ({"timing": "after", "after": "not-an-id"}, {"after": ["Must be the id of one of your workflows."]}),
        ({"timing": "at", "at": "2001-01-01T00:00"}, {"at": ["Must be in the future."]}),
        (
            {"timing": "recurrence", "rec_frequency": "daily", "rec_by_hour": "25"},
            {"rec_by_hour": ["25: Must be an hour, an integer from 0 to 23."]},
        ),
        ({"timing": "cron", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}, {"timezone": None}),
    ],
)
def test_the_preview_of_a_bad_timing_names_the_input(client, user, params, errors):
    client.force_login(user)

    body = preview(client, **{"timezone": "UTC", **params})

    assert body["valid"] is False
    assert body["runs"] == []
    assert set(body["errors"]) == set(errors)
    for name, messages in errors.items():
        if messages is not None:
            assert body["errors"][name] == messages


def test_the_edit_preview_is_the_users_own_workflows(client, user, make_user):
    mine, _ = services.workflow_create(user=user, data={"name": "m", "kind": "HEARTBEAT", "payload": {}, "interval": 5})
    theirs, _ = services.workflow_create(
        user=make_user(), data={"name": "t", "kind": "HEARTBEAT", "payload": {}, "interval": 5}
    )

    assert client.get("/workflows/schedule-preview/", {"timing": "interval", "interval": "5"}).status_code == 302
    client.force_login(user)
    params = {"timing": "interval", "interval": "5", "timezone": "UTC"}
    assert client.get("/workflows/schedule-preview/", {**params, "workflow": str(mine.id)}).json()["valid"] is True
    assert client.get("/workflows/schedule-preview/", {**params, "workflow": str(theirs.id)}).status_code == 404
    assert client.get("/workflows/schedule-preview/", {**params, "workflow": "nope"}).status_code == 404


def test_an_edit_refused_by_the_form_alone_shows_only_that(client, user):
    workflow, _ = services.workflow_create(
        user=user, data={"name": "wf", "kind": "WEBHOOK", "payload": {"url": "https://example.com"}, "interval": 5}
    )
    client.force_login(user)
    values = form_values(client.get(f"/workflows/{workflow.id}/edit/").content.decode())

    response = client.post(f"/workflows/{workflow.id}/edit/", {**values, "wh_retries": "many"})

    assert response.status_code == 400
    assert dict(response.context["form"].errors) == {"wh_retries": ["Enter a whole number."]}
