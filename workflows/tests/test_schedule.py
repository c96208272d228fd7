"""Run times of every kind of schedule, across DST changes and month ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflows.schedule import Plan, ScheduleError, parse_cron, parse_rrule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


ANCHOR = utc(2026, 1, 1)


def plan(*, interval=None, schedule=None, tz="UTC", start_at=None, end_at=None, anchor=ANCHOR) -> Plan:
    return Plan(interval=interval, schedule=schedule, timezone=tz, start_at=start_at, end_at=end_at, anchor=anchor)


def runs(p: Plan, after: datetime, count: int) -> list[str]:
    out, when = [], after
    for _ in range(count):
        when = p.next_run(when, when)
        out.append(when.isoformat())
    return out


def test_an_interval_runs_when_ready_then_on_its_own_grid():
    p = plan(interval=15)
    ready = utc(2026, 5, 1, 10, 0, 7)

    first = p.first_run(ready)

    assert first == ready
    assert p.next_run(first, first) == ready + timedelta(minutes=15)


def test_an_interval_waits_for_start_at():
    p = plan(interval=5, start_at=utc(2026, 6, 1))

    assert p.first_run(utc(2026, 5, 1)) == utc(2026, 6, 1)


def test_missed_interval_slots_are_coalesced_onto_the_grid():
    p = plan(interval=10)
    last_slot = utc(2026, 5, 1, 10, 0)

    # Three hours of downtime: the next run is the first grid slot still ahead, not 18 catch-ups.
    assert p.next_run(last_slot, utc(2026, 5, 1, 13, 4)) == utc(2026, 5, 1, 13, 10)
    assert p.next_run(last_slot, utc(2026, 5, 1, 13, 10)) == utc(2026, 5, 1, 13, 20)


def test_nothing_runs_after_end_at():
    p = plan(interval=60, end_at=utc(2026, 5, 1, 11, 30))

    assert p.next_run(utc(2026, 5, 1, 11, 0), utc(2026, 5, 1, 11, 0)) is None


def test_a_daily_cron_time_stays_local_across_both_dst_changes():
    p = plan(schedule={"cron": "0 9 * * *"}, tz="Europe/Berlin")

    assert runs(p, utc(2026, 3, 28, 12), 2) == ["2026-03-29T07:00:00+00:00", "2026-03-30T07:00:00+00:00"]
    assert runs(p, utc(2026, 10, 24, 12), 2) == ["2026-10-25T08:00:00+00:00", "2026-10-26T08:00:00+00:00"]


def test_a_time_repeated_when_clocks_go_back_runs_once():
    p = plan(schedule={"cron": "30 2 * * *"}, tz="Europe/Berlin")

    assert runs(p, utc(2026, 10, 24, 12), 2) == ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]


def test_a_time_skipped_when_clocks_go_forward_still_runs_that_day():
    p = plan(schedule={"cron": "30 2 * * *"}, tz="Europe/Berlin")

    # 02:30 does not exist on 2026-03-29 in Berlin; it runs at 03:30 local (01:30 UTC).
    assert runs(p, utc(2026, 3, 28, 12), 2) == ["2026-03-29T01:30:00+00:00", "2026-03-30T00:30:00+00:00"]


def test_sub_hourly_cron_runs_stay_in_order_through_the_spring_gap():
    p = plan(schedule={"cron": "*/30 * * * *"}, tz="Europe/Berlin")

    times = runs(p, utc(2026, 3, 29, 0, 15), 4)

    assert times == sorted(times)
    assert len(set(times)) == 4


def test_cron_on_the_31st_skips_shorter_months():
    p = plan(schedule={"cron": "0 0 31 * *"})

    assert runs(p, utc(2026, 1, 31, 12), 3) == [
        "2026-03-31T00:00:00+00:00",
        "2026-05-31T00:00:00+00:00",
        "2026-07-31T00:00:00+00:00",
    ]


def test_rrule_last_day_of_month_handles_february_and_leap_years():
    p = plan(schedule={"rrule": "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=23;BYMINUTE=0"})

    assert runs(p, utc(2028, 1, 15), 3) == [
        "2028-01-31T23:00:00+00:00",
        "2028-02-29T23:00:00+00:00",
        "2028-03-31T23:00:00+00:00",
    ]


def test_rrule_weekly_follows_new_york_local_time_across_dst():
    p = plan(schedule={"rrule": "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0"}, tz="America/New_York")

    assert runs(p, utc(2026, 3, 5), 3) == [
        "2026-03-06T14:00:00+00:00",
        "2026-03-09T13:00:00+00:00",
        "2026-03-13T13:00:00+00:00",
    ]


def test_rrule_count_ends_the_schedule():
    p = plan(schedule={"rrule": "FREQ=DAILY;COUNT=2;BYHOUR=8;BYMINUTE=0"}, anchor=utc(2026, 5, 1))

    first = p.first_run(utc(2026, 5, 1))

    assert first == utc(2026, 5, 1, 8)
    assert p.next_run(first, first) == utc(2026, 5, 2, 8)
    assert p.next_run(utc(2026, 5, 2, 8), utc(2026, 5, 2, 8)) is None


def test_a_one_time_run_happens_once():
    p = plan(schedule={"at": "2026-07-01T12:00:00Z"})

    assert p.first_run(utc(2026, 6, 1)) == utc(2026, 7, 1, 12)
    assert p.next_run(utc(2026, 7, 1, 12), utc(2026, 7, 1, 12)) is None
    # Ready only after the chosen time (a slow build): it still runs, once, as soon as it can.
    assert p.first_run(utc(2026, 7, 2)) == utc(2026, 7, 2)


def test_cron_first_run_includes_the_ready_instant_itself():
    p = plan(schedule={"cron": "0 * * * *"})

    assert p.first_run(utc(2026, 5, 1, 10, 0)) == utc(2026, 5, 1, 10, 0)


@pytest.mark.parametrize("expression", ["* * * *", "* * * * * *", "61 * * * *", "@reboot", "every day", ""])
def test_bad_cron_lines_are_refused(expression):
    with pytest.raises(ScheduleError):
        parse_cron(expression)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY",
        "FREQ=SOMETIMES",
        "DTSTART:20260101T000000\nRRULE:FREQ=DAILY",
        "BYDAY=MO",
        "FREQ=DAILY;UNTIL=20270101T000000Z",
    ],
)
def test_bad_rrules_are_refused(rule):
    with pytest.raises(ScheduleError):
        parse_rrule(rule, datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MINUTELY;INTERVAL=7",
        "FREQ=HOURLY;INTERVAL=5;BYMINUTE=13",
        "FREQ=DAILY;INTERVAL=3;BYHOUR=2,14;BYMINUTE=30",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0",
        "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=6;BYMINUTE=0",
    ],
)
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York"])
def test_an_old_rrule_gives_the_same_runs_as_walking_it_from_its_start(rule, tz):
    from dateutil.rrule import rrulestr

    from workflows.schedule import _local_wall, _place, get_zone

    anchor = utc(2025, 1, 31, 5, 17)
    p = plan(schedule={"rrule": rule}, tz=tz, anchor=anchor)
    zone = get_zone(tz)
    walk = rrulestr(rule, dtstart=_local_wall(anchor, zone))
    for after in (utc(2026, 3, 29, 0, 59), utc(2026, 10, 25, 0, 10), utc(2026, 11, 22, 12, 0)):
        expected = _place(walk.after(_local_wall(after, zone)), zone)
        while expected <= after:
            expected = _place(walk.after(_local_wall(expected, zone) + timedelta(microseconds=1)), zone)
        assert p.next_run(after, after) == expected, (rule, tz, after)
