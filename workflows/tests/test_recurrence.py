"""The recurrence object: the same runs as its RRULE (over a year, across DST changes, month ends
and leap years), a 400 naming the exact part for every bad value, and the API, dashboard and
scheduler taking it like any schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from jobs.models import Job
from jobs.scheduler import scheduler_tick
from notifications.models import Notification
from workflows import services
from workflows.models import Workflow
from workflows.schedule import Plan

URL = "/api/v1/workflows"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def plan(schedule: dict, tz: str, start_at: datetime | None, anchor: datetime) -> Plan:
    return Plan(interval=None, schedule=schedule, timezone=tz, start_at=start_at, end_at=None, anchor=anchor)


def occurrences(p: Plan, ready_at: datetime, until: datetime, limit: int = 20000) -> list[datetime]:
    """Every run from `ready_at` up to `until`, as the scheduler advances from slot to slot."""
    out: list[datetime] = []
    when = p.first_run(ready_at)
    while when is not None and when <= until and len(out) < limit:
        out.append(when)
        when = p.next_run(when, when)
    return out


# (timezone, recurrence object, its RRULE written by hand, start_at or None, creation time, span)
YEAR = timedelta(days=366)
EQUIVALENT = [
    pytest.param(
        "Europe/Berlin",
        {"frequency": "daily", "by_hour": [2], "by_minute": [30]},
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        None,
        utc(2026, 1, 5, 10, 17),
        YEAR,
        id="berlin-daily-in-the-dst-gap-and-overlap",
    ),
    pytest.param(
        "America/New_York",
        {"frequency": "weekly", "by_day": ["MO", "FR"], "by_hour": [9], "by_minute": [0]},
        "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0",
        None,
        utc(2026, 2, 11, 23, 59),
        YEAR,
        id="new-york-weekly-mornings",
    ),
    pytest.param(
        "Europe/Berlin",
        {"frequency": "hourly", "interval": 5},
        "FREQ=HOURLY;INTERVAL=5",
        utc(2026, 1, 1, 0, 0),
        utc(2025, 12, 20, 8, 0),
        YEAR,
        id="berlin-every-five-hours-from-start-at",
    ),
    pytest.param(
        "America/New_York",
        {"frequency": "minutely", "interval": 20, "by_hour": [1, 2, 3]},
        "FREQ=MINUTELY;INTERVAL=20;BYHOUR=1,2,3",
        None,
        utc(2026, 1, 3, 4, 7),
        YEAR,
        id="new-york-minutely-through-the-changing-hours",
    ),
    pytest.param(
        "UTC",
        {"frequency": "monthly", "by_month_day": [31], "by_hour": [12], "by_minute": [0]},
        "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=12;BYMINUTE=0",
        None,
        utc(2027, 12, 15, 0, 0),
        YEAR,
        id="monthly-on-the-31st-skips-short-months",
    ),
    pytest.param(
        "Europe/Berlin",
        {"frequency": "monthly", "by_month_day": [-1], "by_hour": [23], "by_minute": [45]},
        "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=23;BYMINUTE=45",
        None,
        utc(2027, 12, 15, 0, 0),
        YEAR,
        id="monthly-on-the-last-day-through-a-leap-february",
    ),
    pytest.param(
        "UTC",
        {"frequency": "yearly", "by_month": [2], "by_month_day": [29], "by_hour": [6], "by_minute": [0]},
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=6;BYMINUTE=0",
        None,
        utc(2026, 3, 1, 0, 0),
        timedelta(days=366 * 12),
        id="yearly-on-february-29-only-in-leap-years",
    ),
    pytest.param(
        "Asia/Tokyo",
        {"frequency": "monthly", "interval": 2, "by_day": ["MO", "TU"], "by_month": [1, 3, 5], "by_hour": [8, 20]},
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU;BYMONTH=1,3,5;BYHOUR=8,20",
        utc(2026, 1, 1, 0, 0),
        utc(2025, 11, 2, 0, 0),
        YEAR,
        id="every-other-month-on-some-weekdays",
    ),
    pytest.param(
        "America/New_York",
        {"frequency": "monthly"},
        "FREQ=MONTHLY",
        utc(2027, 1, 31, 14, 0),
        utc(2026, 12, 1, 0, 0),
        YEAR,
        id="monthly-takes-the-day-of-start-at-the-31st",
    ),
    pytest.param(
        "UTC",
        {"frequency": "yearly"},
        "FREQ=YEARLY",
        utc(2028, 2, 29, 7, 30),
        utc(2027, 6, 1, 0, 0),
        timedelta(days=366 * 9),
        id="yearly-from-a-february-29",
    ),
    pytest.param(
        "Europe/Berlin",
        {"frequency": "daily", "interval": 3, "by_day": ["SA", "SU"], "by_hour": [2, 3], "by_minute": [0, 30]},
        "FREQ=DAILY;INTERVAL=3;BYDAY=SA,SU;BYHOUR=2,3;BYMINUTE=0,30",
        None,
        utc(2026, 1, 2, 9, 41),
        YEAR,
        id="every-third-day-on-weekends-in-the-small-hours",
    ),
]


@pytest.mark.parametrize(("tz", "recurrence", "rule", "start_at", "created", "span"), EQUIVALENT)
def test_the_recurrence_object_runs_exactly_as_its_rrule(tz, recurrence, rule, start_at, created, span):
    until = (start_at or created) + span
    by_object = occurrences(plan(recurrence, tz, start_at, created), created, until)
    by_rrule = occurrences(plan({"rrule": rule}, tz, start_at, created), created, until)

    assert by_object == by_rrule
    assert len(by_object) > 0


def test_a_daily_time_in_the_berlin_gap_and_overlap_runs_once_each_day():
    runs = occurrences(
        plan({"frequency": "daily", "by_hour": [2], "by_minute": [30]}, "Europe/Berlin", None, utc(2026, 1, 1)),
        utc(2026, 3, 27),
        utc(2026, 3, 31),
    ) + occurrences(
        plan({"frequency": "daily", "by_hour": [2], "by_minute": [30]}, "Europe/Berlin", None, utc(2026, 1, 1)),
        utc(2026, 10, 23),
        utc(2026, 10, 27),
    )

    assert [run.isoformat() for run in runs] == [
        "2026-03-27T01:30:00+00:00",
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:30:00+00:00",  # 02:30 does not exist that night: 03:30 CEST
        "2026-03-30T00:30:00+00:00",
        "2026-10-23T00:30:00+00:00",
        "2026-10-24T00:30:00+00:00",
        "2026-10-25T00:30:00+00:00",  # 02:30 happens twice that night: the first one only
        "2026-10-26T01:30:00+00:00",
    ]


def test_the_last_day_of_the_month_and_february_29():
    last_days = occurrences(
        plan(
            {"frequency": "monthly", "by_month_day": [-1], "by_hour": [0], "by_minute": [0]},
            "UTC",
            None,
            utc(2028, 1, 1),
        ),
        utc(2028, 1, 1),
        utc(2028, 5, 1),
    )
    leap_days = occurrences(
        plan({"frequency": "yearly", "by_month": [2], "by_month_day": [29]}, "UTC", utc(2026, 3, 1), utc(2026, 3, 1)),
        utc(2026, 3, 1),
        utc(2037, 1, 1),
    )

    assert [run.date().isoformat() for run in last_days] == ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"]
    assert [run.date().isoformat() for run in leap_days] == ["2028-02-29", "2032-02-29", "2036-02-29"]


def test_new_york_weekly_runs_stay_at_nine_local_across_both_changes():
    runs = occurrences(
        plan(
            {"frequency": "weekly", "by_day": ["MO"], "by_hour": [9], "by_minute": [0]},
            "America/New_York",
            None,
            utc(2026, 3, 1),
        ),
        utc(2026, 3, 1),
        utc(2026, 3, 17),
    )

    # EST (UTC-5) before 2026-03-08, EDT (UTC-4) after.
    assert [run.isoformat() for run in runs] == [
        "2026-03-02T14:00:00+00:00",
        "2026-03-09T13:00:00+00:00",
        "2026-03-16T13:00:00+00:00",
    ]


# Through the API


def body(schedule, **extra) -> dict:
    return {"name": "wf", "kind": "HEARTBEAT", "payload": {}, "schedule": schedule, **extra}


@pytest.mark.django_db
def test_a_recurrence_workflow_is_due_when_its_rrule_twin_is(auth_api):
    start_at = "2031-03-01T00:00:00Z"
    recurrence = {"frequency": "weekly", "by_day": ["TU", "TH"], "by_hour": [7], "by_minute": [15]}

    made = auth_api.post(URL, body(recurrence, timezone="Europe/Berlin", start_at=start_at), format="json")
    twin = auth_api.post(
        URL,
        body({"rrule": "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=7;BYMINUTE=15"}, timezone="Europe/Berlin", start_at=start_at),
        format="json",
    )

    assert made.status_code == 201, made.content
    assert made.json()["schedule"] == recurrence
    assert made.json()["next_run_at"] == twin.json()["next_run_at"] == "2031-03-04T06:15:00.000Z"


@pytest.mark.django_db
def test_the_object_is_stored_normalized(auth_api):
    response = auth_api.post(
        URL,
        body({"frequency": "Weekly", "by_day": ["fr", "mo", "FR"], "by_hour": [17, 9, 9], "interval": 1}),
        format="json",
    )

    assert response.status_code == 201, response.content
    expected = {"frequency": "weekly", "interval": 1, "by_day": ["MO", "FR"], "by_hour": [9, 17]}
    assert response.json()["schedule"] == expected
    assert Workflow.objects.get().schedule == expected


@pytest.mark.parametrize("frequency", ["minutely", "hourly", "daily", "weekly", "monthly", "yearly", "DAILY"])
@pytest.mark.django_db
def test_every_frequency_is_accepted(auth_api, frequency):
    response = auth_api.post(URL, body({"frequency": frequency}), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["schedule"] == {"frequency": frequency.lower()}
    assert response.json()["next_run_at"] is not None


# A Tuesday, midnight: where the rules below start.
TUESDAY = "2031-01-07T00:00:00Z"
BAD = [
    ({"frequency": "fortnightly"}, ["schedule.frequency"]),
    ({"frequency": 5}, ["schedule.frequency"]),
    ({"frequency": None}, ["schedule.frequency"]),
    ({"frequency": ["daily"]}, ["schedule.frequency"]),
    ({"interval": 2}, ["schedule.frequency"]),
    ({"by_day": ["MO"]}, ["schedule.frequency"]),
    ({"interval": 0, "by_hour": [24]}, ["schedule.by_hour.0", "schedule.frequency", "schedule.interval"]),
    ({"frequency": "daily", "interval": 0}, ["schedule.interval"]),
    ({"frequency": "daily", "interval": 1001}, ["schedule.interval"]),
    ({"frequency": "daily", "interval": "2"}, ["schedule.interval"]),
    ({"frequency": "daily", "interval": 2.5}, ["schedule.interval"]),
    ({"frequency": "daily", "interval": True}, ["schedule.interval"]),
    ({"frequency": "daily", "interval": None}, ["schedule.interval"]),
    ({"frequency": "weekly", "by_day": []}, ["schedule.by_day"]),
    ({"frequency": "weekly", "by_day": "MO"}, ["schedule.by_day"]),
    ({"frequency": "weekly", "by_day": None}, ["schedule.by_day"]),
    ({"frequency": "weekly", "by_day": ["MO", "TU", "XX"]}, ["schedule.by_day.2"]),
    ({"frequency": "weekly", "by_day": [1]}, ["schedule.by_day.0"]),
    ({"frequency": "monthly", "by_day": ["1MO"]}, ["schedule.by_day.0"]),
    ({"frequency": "weekly", "by_day": ["MONDAY"]}, ["schedule.by_day.0"]),
    ({"frequency": "monthly", "by_month_day": []}, ["schedule.by_month_day"]),
    ({"frequency": "monthly", "by_month_day": 5}, ["schedule.by_month_day"]),
    ({"frequency": "monthly", "by_month_day": [1, 0]}, ["schedule.by_month_day.1"]),
    ({"frequency": "monthly", "by_month_day": [32]}, ["schedule.by_month_day.0"]),
    ({"frequency": "monthly", "by_month_day": [-32]}, ["schedule.by_month_day.0"]),
    ({"frequency": "monthly", "by_month_day": ["1"]}, ["schedule.by_month_day.0"]),
    ({"frequency": "yearly", "by_month": []}, ["schedule.by_month"]),
    ({"frequency": "yearly", "by_month": [0]}, ["schedule.by_month.0"]),
    ({"frequency": "yearly", "by_month": [6, 13]}, ["schedule.by_month.1"]),
    ({"frequency": "yearly", "by_month": [1.5]}, ["schedule.by_month.0"]),
    ({"frequency": "daily", "by_hour": []}, ["schedule.by_hour"]),
    ({"frequency": "daily", "by_hour": [24]}, ["schedule.by_hour.0"]),
    ({"frequency": "daily", "by_hour": [-1]}, ["schedule.by_hour.0"]),
    ({"frequency": "daily", "by_hour": [True]}, ["schedule.by_hour.0"]),
    ({"frequency": "hourly", "by_minute": []}, ["schedule.by_minute"]),
    ({"frequency": "hourly", "by_minute": [0, 60]}, ["schedule.by_minute.1"]),
    ({"frequency": "hourly", "by_minute": {"0": 1}}, ["schedule.by_minute"]),
    ({"frequency": "daily", "by_second": [0]}, ["schedule.by_second"]),
    ({"frequency": "daily", "count": 3}, ["schedule.count"]),
    ({"frequency": "daily", "until": "2031-01-01"}, ["schedule.until"]),
    (
        {"frequency": "nope", "interval": 0, "by_day": ["MO", "ZZ"], "by_hour": [25], "extra": 1},
        ["schedule.by_day.1", "schedule.by_hour.0", "schedule.extra", "schedule.frequency", "schedule.interval"],
    ),
    ({"frequency": "daily", "cron": "* * * * *"}, ["schedule"]),
    # Well-formed, but never runs: refused at once, with the part to blame.
    ({"frequency": "monthly", "by_month": [2], "by_month_day": [30]}, ["schedule.by_month_day"]),
    ({"frequency": "yearly", "by_month": [4, 6, 9, 11], "by_month_day": [31, -31]}, ["schedule.by_month_day"]),
    ({"frequency": "daily", "by_month": [2], "by_month_day": [30, 31]}, ["schedule.by_month_day"]),
    (
        {"frequency": "minutely", "interval": 7, "by_day": ["MO"], "by_hour": [1], "by_minute": [3]},
        ["schedule.interval"],
    ),
    ({"frequency": "hourly", "interval": 2, "by_hour": [1]}, ["schedule.interval"]),
    ({"frequency": "hourly", "interval": 168, "by_day": ["MO"]}, ["schedule.interval"]),
    ({"frequency": "daily", "interval": 7, "by_day": ["MO", "WE"]}, ["schedule.interval"]),
    ({"frequency": "monthly", "interval": 12, "by_month": [3]}, ["schedule.interval"]),
]


@pytest.mark.parametrize(("schedule", "fields"), BAD, ids=[f"{i}-{f[0]}" for i, (_, f) in enumerate(BAD)])
@pytest.mark.django_db
def test_every_bad_value_is_a_400_naming_its_exact_part(auth_api, schedule, fields):
    response = auth_api.post(URL, body(schedule, start_at=TUESDAY), format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert sorted(error["fields"]) == fields
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_the_same_lists_with_a_start_they_reach_are_accepted(auth_api):
    # The twins of the refused rules above, from a start their steps do reach.
    for schedule, start_at in [
        (
            {"frequency": "minutely", "interval": 7, "by_day": ["MO"], "by_hour": [1], "by_minute": [3]},
            "2031-01-06T01:03:00Z",
        ),
        ({"frequency": "hourly", "interval": 2, "by_hour": [1]}, "2031-01-07T01:00:00Z"),
        ({"frequency": "daily", "interval": 7, "by_day": ["TU"]}, TUESDAY),
        ({"frequency": "monthly", "interval": 12, "by_month": [1]}, TUESDAY),
        ({"frequency": "monthly", "by_month": [2], "by_month_day": [29]}, TUESDAY),
    ]:
        response = auth_api.post(URL, body(schedule, start_at=start_at), format="json")
        assert response.status_code == 201, (schedule, response.content)


@pytest.mark.django_db
def test_a_yearly_rule_without_a_day_takes_the_day_of_its_start(auth_api):
    # RFC 5545 and dateutil: the day comes from the start; no February has a 30th.
    refused = auth_api.post(
        URL, body({"frequency": "yearly", "by_month": [2]}, start_at="2031-01-30T00:00:00Z"), format="json"
    )
    accepted = auth_api.post(
        URL, body({"frequency": "yearly", "by_month": [2]}, start_at="2031-01-28T00:00:00Z"), format="json"
    )

    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["schedule.by_month"]
    assert accepted.json()["next_run_at"] == "2031-02-28T00:00:00.000Z"


@pytest.mark.django_db
def test_patch_switches_to_a_recurrence_and_rechecks_it_from_the_creation_time(auth_api, user):
    workflow_id = auth_api.post(
        URL, {"name": "wf", "kind": "HEARTBEAT", "payload": {}, "interval": 5}, format="json"
    ).json()["id"]
    created_at = Workflow.objects.get(pk=workflow_id).created_at
    # Every other hour on the hour of creation's parity: the odd hours are out of reach.
    unreachable = (created_at.hour + 1) % 24

    switched = auth_api.patch(
        f"{URL}/{workflow_id}", {"schedule": {"frequency": "hourly", "interval": 3}}, format="json"
    )
    refused = auth_api.patch(
        f"{URL}/{workflow_id}",
        {"schedule": {"frequency": "hourly", "interval": 2, "by_hour": [unreachable]}},
        format="json",
    )

    assert switched.status_code == 200, switched.content
    assert switched.json()["interval"] is None
    assert switched.json()["schedule"] == {"frequency": "hourly", "interval": 3}
    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["schedule.interval"]


@pytest.mark.django_db
def test_patch_with_the_same_rule_written_otherwise_changes_nothing(auth_api, user):
    workflow_id = auth_api.post(URL, body({"frequency": "daily", "by_hour": [9, 17]}), format="json").json()["id"]

    response = auth_api.patch(
        f"{URL}/{workflow_id}", {"schedule": {"frequency": "DAILY", "by_hour": [17, 9]}}, format="json"
    )

    assert response.status_code == 200
    assert not Notification.objects.filter(user=user, kind="WORKFLOW_UPDATED").exists()


@pytest.mark.django_db
def test_the_openapi_schema_documents_the_recurrence_object(api):
    import yaml

    components = yaml.safe_load(api.get("/api/schema/").content)["components"]["schemas"]
    recurrence = components["RecurrenceScheduleRequest"]

    assert recurrence["required"] == ["frequency"]
    assert recurrence["additionalProperties"] is False
    assert set(recurrence["properties"]) == {
        "frequency",
        "interval",
        "by_day",
        "by_month_day",
        "by_month",
        "by_hour",
        "by_minute",
    }
    weekdays = recurrence["properties"]["by_day"]["items"]["$ref"].rsplit("/", 1)[1]
    assert components[weekdays]["enum"] == ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    assert recurrence["properties"]["interval"]["maximum"] == 1000
    assert {"$ref": "#/components/schemas/RecurrenceSchedule"} in components["Workflow"]["properties"]["schedule"][
        "oneOf"
    ]


# The scheduler


@pytest.mark.django_db
def test_the_tick_runs_a_recurrence_workflow_on_its_grid(user):
    workflow, _ = services.workflow_create(
        user=user, data=body({"frequency": "minutely", "interval": 15}, timezone="America/New_York")
    )
    slot = workflow.next_run_at

    scheduler_tick(now=slot)

    workflow.refresh_from_db()
    assert list(Job.objects.filter(workflow=workflow).values_list("scheduled_at", flat=True)) == [slot]
    assert workflow.next_run_at == slot + timedelta(minutes=15)


# The dashboard


def create_form(**overrides) -> dict:
    return {
        "name": "weekly",
        "kind": "HEARTBEAT",
        "payload": "{}",
        "timing": "recurrence",
        "rec_frequency": "",
        "timezone": "Europe/Berlin",
        "max_consecutive_job_failures_allowed": "3",
        "concurrency_policy": "FORBID",
        "tags": "",
        "start_at": "",
        "end_at": "",
        **overrides,
    }


@pytest.mark.django_db
def test_the_dashboard_creates_and_shows_a_recurrence(client, user):
    client.force_login(user)
    recurrence = {"frequency": "weekly", "by_day": ["MO", "FR"], "by_hour": [9], "by_minute": [0]}

    response = client.post(
        "/workflows/new/",
        create_form(rec_frequency="weekly", rec_by_day=["MO", "FR"], rec_by_hour="9", rec_by_minute="0"),
        follow=True,
    )

    workflow = Workflow.objects.get(user=user)
    assert workflow.schedule == recurrence
    assert "recurrence FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0" in response.content.decode()
    form = client.get(f"/workflows/{workflow.id}/edit/").context["form"]
    assert form.initial["timing"] == "recurrence"
    assert (form.initial["rec_frequency"], form.initial["rec_by_day"]) == ("weekly", ["MO", "FR"])
    assert (form.initial["rec_by_hour"], form.initial["rec_by_minute"]) == ("9", "0")


@pytest.mark.parametrize(
    ("inputs", "field", "message"),
    [
        ({"rec_frequency": "weekly", "rec_by_day": ["MO", "XX"]}, "rec_by_day", "Select a valid choice."),
        ({"rec_frequency": "sometimes"}, "rec_frequency", "Must be one of minutely, hourly"),
        ({"rec_frequency": ""}, "rec_frequency", "Must be one of minutely, hourly"),
        ({"rec_frequency": "daily", "rec_by_month_day": "0"}, "rec_by_month_day", "0: Must be a day of the month"),
        ({"rec_frequency": "daily", "rec_interval": "0"}, "rec_interval", "Must be an integer from 1 to 1000."),
        (
            {"rec_frequency": "monthly", "rec_by_month": ["2"], "rec_by_month_day": "30"},
            "rec_by_month_day",
            "never runs",
        ),
    ],
)
@pytest.mark.django_db
def test_the_dashboard_shows_what_is_wrong_with_a_recurrence_on_its_input(client, user, inputs, field, message):
    client.force_login(user)

    response = client.post("/workflows/new/", create_form(**inputs))

    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_the_dashboard_edits_a_recurrence(client, user):
    workflow, _ = services.workflow_create(user=user, data=body({"frequency": "daily", "by_hour": [9]}))
    client.force_login(user)
    values = {
        **create_form(),
        "name": workflow.name,
        "timezone": "UTC",
        "rec_frequency": "daily",
        "rec_by_hour": "10",
    }

    client.post(f"/workflows/{workflow.id}/edit/", values)

    workflow.refresh_from_db()
    assert workflow.schedule == {"frequency": "daily", "by_hour": [10]}
    assert workflow.next_run_at is not None
    assert timezone.localtime(workflow.next_run_at, UTC).hour == 10
