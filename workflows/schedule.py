"""When a workflow runs: an interval grid, a cron line, an RFC 5545 rule (written as an RRULE or as a
recurrence object), or one time.

cron and rrule are evaluated on the local wall clock of the workflow's timezone and then placed
on the timeline, so `0 9 * * *` stays at 09:00 local across DST changes. A wall time repeated when
clocks go back runs once (the first time); a wall time skipped when clocks go forward runs at the
same offset as before the jump (02:30 becomes 03:30).
"""

from __future__ import annotations

import calendar
import math
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TypeGuard

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, SECONDLY, WEEKLY, YEARLY, rrule, rrulestr

# Searching forward stops here: a rule with no occurrence within this horizon never runs.
_HORIZON = timedelta(days=366 * 5)


class ScheduleError(ValueError):
    """A schedule that cannot be evaluated; the message says why, for a 400 on `field` (a key of
    the schedule object) when one part is to blame."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


@cache
def timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def get_zone(name: str) -> zoneinfo.ZoneInfo:
    if name not in timezone_names():
        raise ScheduleError(f"Unknown timezone {name!r}; use an IANA name such as 'Europe/Berlin'.")
    return zoneinfo.ZoneInfo(name)


def _place(local_wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """A naive local wall time as an aware UTC instant (fold=0: the first of a repeated hour)."""
    return local_wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _local_wall(instant: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def parse_cron(expression: str) -> str:
    expression = " ".join(expression.split())
    if expression.startswith("@"):
        if expression not in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"):
            raise ScheduleError(f"Unsupported cron macro {expression!r}.")
    elif len(expression.split(" ")) != 5:
        raise ScheduleError("A cron line has five fields: minute hour day-of-month month day-of-week.")
    if not croniter.is_valid(expression):
        raise ScheduleError(f"Invalid cron expression {expression!r}.")
    return expression


def parse_rrule(text: str, anchor: datetime) -> rrule:
    """An RRULE (with or without the `RRULE:` prefix) anchored at a naive local `anchor`."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body or "\n" in body or "DTSTART" in body.upper() or ":" in body:
        raise ScheduleError(
            "Give a single RRULE such as 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0' (use start_at instead of DTSTART)."
        )
    try:
        rule = rrulestr(body, dtstart=anchor)
    except (ValueError, TypeError) as exc:
        raise ScheduleError(f"Invalid RRULE: {exc}.") from None
    if not isinstance(rule, rrule):
        raise ScheduleError("Give a single RRULE.")
    # dateutil has no public accessors for a rule's parts; its stubs leave the private ones out.
    if rule._freq == SECONDLY:  # type: ignore[attr-defined]
        raise ScheduleError("FREQ=SECONDLY is not supported; the finest schedule is one run a minute.")
    if rule._until is not None and rule._until.tzinfo is not None:  # type: ignore[attr-defined]
        # An UNTIL given in UTC (`...Z`) is compared with naive local times below.
        raise ScheduleError("Write UNTIL as a local time without 'Z'; the workflow's timezone applies.")
    return rule


# The recurrence object: `{"frequency", "interval"?, "by_day"?, "by_month_day"?, "by_month"?,
# "by_hour"?, "by_minute"?}`, the JSON spelling of an RRULE's FREQ, INTERVAL and BY* parts.
FREQUENCIES = {
    "minutely": MINUTELY,
    "hourly": HOURLY,
    "daily": DAILY,
    "weekly": WEEKLY,
    "monthly": MONTHLY,
    "yearly": YEARLY,
}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_RECURRENCE_INTERVAL = 1000
# Each list of the object and the RRULE part it is.
RECURRENCE_PARTS = {
    "by_month": "BYMONTH",
    "by_month_day": "BYMONTHDAY",
    "by_day": "BYDAY",
    "by_hour": "BYHOUR",
    "by_minute": "BYMINUTE",
}
RECURRENCE_KEYS = frozenset({"frequency", "interval", *RECURRENCE_PARTS})


def is_recurrence(schedule: dict | None) -> TypeGuard[dict]:
    return schedule is not None and "frequency" in schedule


def recurrence_rrule(recurrence: dict) -> str:
    """The RRULE a (validated) recurrence object stands for: the engine evaluates exactly that rule."""
    parts = [f"FREQ={recurrence['frequency'].upper()}"]
    if "interval" in recurrence:
        parts.append(f"INTERVAL={recurrence['interval']}")
    for key, name in RECURRENCE_PARTS.items():
        if key in recurrence:
            parts.append(f"{name}={','.join(str(value) for value in recurrence[key])}")
    return ";".join(parts)


def calendar_rrule(schedule: dict) -> str:
    """The RRULE of a calendar schedule that is not cron: its own text, or its recurrence object's."""
    return recurrence_rrule(schedule) if is_recurrence(schedule) else schedule["rrule"]


def check_recurrence(recurrence: dict, anchor: datetime) -> None:
    """Refuse a (well-formed) recurrence object that can never run from the naive local `anchor`.

    dateutil finds no occurrence of such a rule only by walking every period up to the year 9999:
    seconds, over a minute for some minutely rules. The rule repeats itself, so the few ways it can
    be empty are decided here at once, with the part to blame:
    - a day of the month that none of its months has (the 30th of February);
    - an interval that, stepping from the anchor, never lands on the allowed weekdays, hours and
      minutes (daily, hourly and minutely steps repeat every week) or months (monthly steps repeat
      every year).
    """
    frequency = FREQUENCIES[recurrence["frequency"]]
    interval = recurrence.get("interval", 1)
    # Monthly and yearly rules with no day of their own take the anchor's, and a yearly one its month
    # too (as dateutil and RFC 5545 do).
    dayless = frequency in (MONTHLY, YEARLY) and not {"by_month_day", "by_day"} & set(recurrence)
    month_days = [anchor.day] if dayless else recurrence.get("by_month_day")
    months = recurrence.get("by_month") or ([anchor.month] if dayless and frequency == YEARLY else range(1, 13))
    if month_days is not None:
        # Leap years give February its 29th.
        longest = {month: 29 if month == 2 else calendar.monthrange(2001, month)[1] for month in months}
        if not any(abs(day) <= longest[month] for day in month_days for month in months):
            field = "by_month_day" if "by_month_day" in recurrence else "by_month"
            raise ScheduleError(
                f"No month among {sorted(months)} has day {month_days}: the rule never runs.", field=field
            )
    if interval == 1:
        return
    if frequency == MONTHLY and "by_month" in recurrence:
        step = math.gcd(interval, 12)
        if all((month - anchor.month) % step for month in recurrence["by_month"]):
            raise ScheduleError(
                f"Every {interval} months from {anchor:%B} never falls in the months given.", field="interval"
            )
    unit = {MINUTELY: 1, HOURLY: 60, DAILY: 1440}.get(frequency)
    if unit is None or not {"by_day", "by_hour", "by_minute"} & set(recurrence):
        return
    # Minutes of the week (Monday 00:00 is 0) the steps can reach, and those the lists allow, at the
    # resolution of one step's unit (a daily step reaches any hour of a day it lands on).
    week = 7 * 1440
    step = math.gcd(interval * unit, week)
    start = (anchor.weekday() * 1440 + anchor.hour * 60 + anchor.minute) // unit * unit
    days = [WEEKDAYS.index(day) for day in recurrence.get("by_day", WEEKDAYS)]
    hours = recurrence.get("by_hour", range(24)) if unit < 1440 else [0]
    minutes = recurrence.get("by_minute", range(60)) if unit < 60 else [0]
    if all((day * 1440 + hour * 60 + minute - start) % step for day in days for hour in hours for minute in minutes):
        what = {1: "minutes", 60: "hours", 1440: "days"}[unit]
        raise ScheduleError(
            f"Every {interval} {what} from {anchor:%a %H:%M} never lands on the given "
            f"{', '.join(key for key in ('by_day', 'by_hour', 'by_minute') if key in recurrence)}.",
            field="interval",
        )


def runs_on_clock(schedule: dict | None) -> bool:
    """False for a dependency (`{"after": ...}`): its runs come from another workflow's jobs, so it
    has no slots of its own, and no next run is no end."""
    return not (schedule and "after" in schedule)


@dataclass(frozen=True)
class Plan:
    """The timing fields of a workflow, enough to compute its runs."""

    interval: int | None
    schedule: dict | None
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    anchor: datetime  # when the workflow was created: the origin of rrule grids

    @property
    def runs_on_clock(self) -> bool:
        return runs_on_clock(self.schedule)

    def _within_end(self, when: datetime | None) -> datetime | None:
        if when is None or (self.end_at is not None and when > self.end_at):
            return None
        return when

    def first_run(self, ready_at: datetime) -> datetime | None:
        """The first run once the workflow is ready (built) at `ready_at`; None if it never runs."""
        earliest = max(ready_at, self.start_at) if self.start_at else ready_at
        if not self.runs_on_clock:
            return None
        if self.interval is not None:
            return self._within_end(earliest)
        assert self.schedule is not None
        if "at" in self.schedule:
            at = parse_at(self.schedule["at"])
            # A build that finishes after the chosen time still runs the workflow, late, once.
            return self._within_end(max(at, earliest))
        return self._within_end(self._next_on_calendar(earliest - timedelta(microseconds=1)))

    def next_run(self, previous_slot: datetime, now: datetime) -> datetime | None:
        """The next slot after the one at `previous_slot`, skipping slots already past at `now`.

        Slots missed while the platform was down are not replayed one by one: the next run is the
        first slot of the workflow's own grid that is still ahead.
        """
        if self.interval is not None:
            step = timedelta(minutes=self.interval)
            behind = max(0, (now - previous_slot) // step)
            return self._within_end(previous_slot + step * (behind + 1))
        assert self.schedule is not None
        if "at" in self.schedule or not self.runs_on_clock:
            return None
        return self._within_end(self._next_on_calendar(max(previous_slot, now)))

    def _next_on_calendar(self, after: datetime) -> datetime | None:
        """The first cron/rrule occurrence strictly after the instant `after`."""
        assert self.schedule is not None
        zone = get_zone(self.timezone)
        wall = _local_wall(after, zone)
        limit = after + _HORIZON
        candidate_wall: datetime | None
        while True:
            if "cron" in self.schedule:
                try:
                    candidate_wall = croniter(parse_cron(self.schedule["cron"]), wall).get_next(datetime)
                except (CroniterBadDateError, CroniterBadCronError, CroniterNotAlphaError):
                    return None
            else:
                anchor = _local_wall(self.start_at or self.anchor, zone).replace(second=0, microsecond=0)
                candidate_wall = _rrule_after(calendar_rrule(self.schedule), anchor, wall)
                if candidate_wall is None:
                    return None
            candidate = _place(candidate_wall, zone)
            if candidate > after:
                return candidate
            if candidate > limit:
                return None
            # A wall time in a skipped hour placed itself before `after`: look past it.
            wall = candidate_wall


_FIXED_PERIODS = {
    WEEKLY: timedelta(weeks=1),
    DAILY: timedelta(days=1),
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
}


def _rrule_after(text: str, anchor: datetime, wall: datetime) -> datetime | None:
    """The rule's first occurrence after `wall`, without iterating from a distant anchor.

    dateutil walks every occurrence from dtstart: for a minutely rule a year old, half a million
    steps on every tick. A rule whose period has a fixed length (weekly or finer) keeps the same grid
    when its anchor moves forward by whole periods, so the walk starts one period before `wall`.
    A COUNT rule counts from its real start, and monthly and yearly rules take their default day
    from the anchor: those keep it (they advance a few steps a year anyway).
    """
    rule = parse_rrule(text, anchor)
    # The rule's private parts, as in parse_rrule.
    period = _FIXED_PERIODS.get(rule._freq)  # type: ignore[attr-defined]
    if period is not None and rule._count is None and wall > anchor:  # type: ignore[attr-defined]
        step = period * rule._interval  # type: ignore[attr-defined]
        periods = (wall - anchor) // step - 1
        if periods > 0:
            rule = parse_rrule(text, anchor + step * periods)
    try:
        return rule.after(wall)
    except ValueError as exc:
        # dateutil finds some empty rules only while walking them (an interval that, from this
        # start, never reaches BYHOUR).
        raise ScheduleError(f"Invalid RRULE: {exc}") from None


def parse_at(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except (ValueError, AttributeError):
            raise ScheduleError("'at' must be an RFC 3339 time such as 2026-03-03T10:30:00Z.") from None
    if parsed.tzinfo is None:
        raise ScheduleError("'at' needs a UTC offset or 'Z'.")
    return parsed.astimezone(UTC)
