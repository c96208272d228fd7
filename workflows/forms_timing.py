"""The guided timing inputs of the workflow form: the chosen timing's inputs turned into the API's
`interval` or `schedule`, and a workflow's timing turned back into inputs.

Times typed in the form (a one-time run, start and end) are wall-clock times in the workflow's
timezone, as cron lines and rules are: the form adds the zone's offset, the API gets RFC 3339.
"""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import datetime
from typing import Any

from chronoverse.serializers import format_timestamp
from workflows.forms_payload import Inputs
from workflows.models import DependencyOutcome, Workflow
from workflows.schedule import FREQUENCIES, RECURRENCE_PARTS, WEEKDAYS, ScheduleError, get_zone, is_recurrence

TIMING_CHOICES = [
    ("interval", "Every N minutes"),
    ("cron", "Cron expression"),
    ("rrule", "RRULE (RFC 5545)"),
    ("recurrence", "Repeating rule (pick days and times)"),
    ("at", "Once, at a date and time"),
    ("after", "After another workflow"),
]
FREQUENCY_CHOICES = [(name, name.capitalize()) for name in FREQUENCIES]
WEEKDAY_CHOICES = list(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
MONTH_CHOICES = [(str(number), calendar.month_abbr[number]) for number in range(1, 13)]
OUTCOME_CHOICES = [
    (DependencyOutcome.COMPLETED, "completes"),
    (DependencyOutcome.FAILED, "fails"),
    (DependencyOutcome.FINISHED, "finishes (completes or fails)"),
]
# The recurrence lists typed as numbers separated by commas (weekdays and months are checkboxes).
NUMBER_LISTS = ("by_month_day", "by_hour", "by_minute")
# The input that holds each timing's main value: where an error about the schedule as a whole goes.
MAIN_INPUT = {
    "interval": "interval",
    "cron": "cron",
    "rrule": "rrule",
    "recurrence": "rec_frequency",
    "at": "at",
    "after": "after",
}
# A schedule's keys and the inputs that hold them (`schedule.by_day.1` goes to rec_by_day).
SCHEDULE_INPUT = {
    "cron": "cron",
    "rrule": "rrule",
    "at": "at",
    "after": "after",
    "on": "after_on",
    "frequency": "rec_frequency",
    "interval": "rec_interval",
    **{key: f"rec_{key}" for key in RECURRENCE_PARTS},
}
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def zone_or_utc(name: str) -> zoneinfo.ZoneInfo:
    """The zone local times are read in; with an unknown name UTC (the service refuses the name)."""
    try:
        return get_zone(name)
    except ScheduleError:
        return zoneinfo.ZoneInfo("UTC")


def local_time(inputs: Inputs, name: str, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """A datetime-local input (or a time with an offset) as an instant; None when empty."""
    raw = inputs.value(name).strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        inputs.fail(name, "Enter a date and time, e.g. 2030-01-31T09:00.")
        return None
    # fold=0: a wall time repeated when clocks go back is its first occurrence, as the scheduler reads it.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone, fold=0)


def local_input(instant: datetime | str | None, zone_name: str) -> str:
    """An instant as a datetime-local value in the workflow's timezone."""
    if instant is None or instant == "":
        return ""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return instant.astimezone(zone_or_utc(zone_name)).strftime(LOCAL_INPUT_FORMAT)


def _numbers(inputs: Inputs, name: str) -> list[int] | None:
    raw = inputs.value(name).replace(",", " ").split()
    if not raw:
        return None
    try:
        return [int(item) for item in raw]
    except ValueError:
        inputs.fail(name, "Whole numbers separated by commas, e.g. 9, 17.")
        return None


def _recurrence(inputs: Inputs) -> dict:
    # Sent as typed: the service refuses a bad frequency or day by name.
    recurrence: dict[str, Any] = {"frequency": inputs.value("rec_frequency")}
    inputs.put_number(recurrence, "interval", "rec_interval")
    days = inputs.values("rec_by_day")
    if days:
        recurrence["by_day"] = days
    months = inputs.values("rec_by_month")
    if months:
        try:
            recurrence["by_month"] = [int(month) for month in months]
        except ValueError:
            inputs.fail("rec_by_month", "Months are numbered 1 to 12.")
    for key in NUMBER_LISTS:
        numbers = _numbers(inputs, f"rec_{key}")
        if numbers:
            recurrence[key] = numbers
    return recurrence


def timing_from_inputs(inputs: Inputs, timing: str, zone: zoneinfo.ZoneInfo) -> dict:
    """`{"interval": n}` or `{"schedule": {...}}` from the chosen timing's inputs. An empty value is
    passed on as such, so that the service reports it with its own message."""
    if timing == "interval":
        if not inputs.value("interval").strip():
            inputs.fail("interval", "Enter the minutes between runs, e.g. 60.")
            return {}
        number = inputs.number("interval")
        return {} if number is None else {"interval": number}
    if timing in ("cron", "rrule"):
        return {"schedule": {timing: inputs.value(timing)}}
    if timing == "recurrence":
        return {"schedule": _recurrence(inputs)}
    if timing == "at":
        at = local_time(inputs, "at", zone)
        if at is None and inputs.errors.get("at"):
            return {}
        return {"schedule": {"at": format_timestamp(at) if at else ""}}
    if timing == "after":
        if not inputs.value("after"):
            inputs.fail("after", "Choose the workflow this one runs after.")
            return {}
        return {"schedule": {"after": inputs.value("after"), "on": inputs.value("after_on") or "COMPLETED"}}
    inputs.fail("timing", "Choose when the workflow runs.")
    return {}


def timing_inputs(workflow: Workflow) -> dict[str, Any]:
    """A workflow's timing as the inputs' initial values."""
    schedule = workflow.schedule or {}
    values: dict[str, Any] = {"interval": workflow.interval or ""}
    if workflow.interval is not None:
        values["timing"] = "interval"
    elif is_recurrence(schedule):
        values["timing"] = "recurrence"
        values["rec_frequency"] = schedule["frequency"]
        values["rec_interval"] = schedule.get("interval", "")
        values["rec_by_day"] = schedule.get("by_day", [])
        values["rec_by_month"] = [str(month) for month in schedule.get("by_month", [])]
        for key in NUMBER_LISTS:
            values[f"rec_{key}"] = ", ".join(str(number) for number in schedule.get(key, []))
    elif "after" in schedule:
        values.update(timing="after", after=schedule["after"], after_on=schedule["on"])
    elif "at" in schedule:
        values.update(timing="at", at=local_input(schedule["at"], workflow.timezone))
    else:
        timing = next(iter(schedule or {"cron": ""}))
        values.update(timing=timing, **{timing: schedule.get(timing, "")})
    return values
