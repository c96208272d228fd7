"""When a workflow runs: an interval grid, a cron line, an RFC 5545 rule, or one time.

cron and rrule are evaluated on the local wall clock of the workflow's timezone and then placed
on the timeline, so `0 9 * * *` stays at 09:00 local across DST changes. A wall time repeated when
clocks go back runs once (the first time); a wall time skipped when clocks go forward runs at the
same offset as before the jump (02:30 becomes 03:30).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter
from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, WEEKLY, rrule, rrulestr

# Searching forward stops here: a rule with no occurrence within this horizon never runs.
_HORIZON = timedelta(days=366 * 5)


class ScheduleError(ValueError):
    """A schedule that cannot be evaluated; the message says why, for a 400."""


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
                candidate_wall = _rrule_after(self.schedule["rrule"], anchor, wall)
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
    return rule.after(wall)


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
