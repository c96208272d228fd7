"""Every rule a workflow's fields must satisfy, in one place for the API, dashboard and admin.

Errors are ServiceErrors whose `fields` name each bad input (`payload.timeout`, `schedule.cron`).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any, NoReturn

from django.utils import timezone as dj_timezone
from rest_framework import serializers

from chronoverse.errors import ServiceError, validation_fields
from chronoverse.serializers import StrictCharField, StrictIntegerField, StrictSerializer, format_timestamp
from workflows.aliases import canonical_kind, validate_aliased_payload
from workflows.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_INTERVAL_MINUTES,
    MAX_METADATA_BYTES,
    ConcurrencyPolicy,
    DependencyOutcome,
    Workflow,
    WorkflowKind,
)
from workflows.schedule import (
    FREQUENCIES,
    MAX_RECURRENCE_INTERVAL,
    RECURRENCE_KEYS,
    RECURRENCE_PARTS,
    WEEKDAYS,
    Plan,
    ScheduleError,
    check_recurrence,
    get_zone,
    is_recurrence,
    parse_at,
    parse_cron,
    parse_rrule,
)

TAG = re.compile(r"^[a-z0-9_.-]{1,64}$")
UPDATABLE = (
    "name",
    "description",
    "payload",
    "interval",
    "schedule",
    "timezone",
    "max_consecutive_job_failures_allowed",
    "concurrency_policy",
    "tags",
    "metadata",
)


class PayloadField(serializers.JSONField):
    """A workflow's payload: documented as one of the kinds' payload schemas (workflows.schema)."""


class ScheduleField(serializers.JSONField):
    """A workflow's schedule: documented as one of its forms (workflows.schema)."""


class MetadataField(serializers.JSONField):
    """The user's JSON object, kept as given; its size is that of its compact UTF-8 encoding."""

    default_error_messages = {
        "not_object": "Must be a JSON object.",
        "too_large": f"At most {MAX_METADATA_BYTES} bytes encoded as JSON.",
        "not_json": "Must be plain JSON (no NaN or Infinity).",
    }

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, dict):
            self.fail("not_object")
        try:
            encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except ValueError:
            self.fail("not_json")
        if len(encoded) > MAX_METADATA_BYTES:
            self.fail("too_large")
        return data


class WorkflowFields(StrictSerializer):
    name = StrictCharField(min_length=1, max_length=255)
    description = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_DESCRIPTION_LENGTH,
        help_text="Free text up to 2,000 characters, kept as given; default empty.",
    )
    kind = serializers.ChoiceField(choices=WorkflowKind.choices)
    payload = PayloadField(help_text="A JSON object valid for the kind (a string holding one is accepted).")
    interval = StrictIntegerField(
        min_value=1,
        max_value=MAX_INTERVAL_MINUTES,
        required=False,
        allow_null=True,
        help_text="Minutes between runs; exactly one of interval and schedule.",
    )
    schedule = ScheduleField(
        required=False,
        allow_null=True,
        help_text='{"cron": "*/5 * * * *"} | {"rrule": "FREQ=..."} | {"frequency": "daily", ...} | '
        '{"at": "<RFC 3339>"} | {"after": "<workflow id>", "on": ...}',
    )
    timezone = StrictCharField(required=False, max_length=64, help_text="IANA name; default UTC.")
    max_consecutive_job_failures_allowed = StrictIntegerField(min_value=1, max_value=100, required=False)
    concurrency_policy = serializers.ChoiceField(choices=ConcurrencyPolicy.choices, required=False)
    tags = serializers.ListField(
        child=StrictCharField(max_length=64, trim_whitespace=False), max_length=20, required=False
    )
    metadata = MetadataField(
        required=False,
        help_text=f"A JSON object kept with the workflow and returned as given (at most {MAX_METADATA_BYTES} bytes "
        "as compact UTF-8 JSON); default {}. An update replaces it whole.",
    )
    start_at = serializers.DateTimeField(required=False, allow_null=True)
    end_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_tags(self, value: list[str]) -> list[str]:
        bad = [tag for tag in value if not TAG.match(tag)]
        if bad:
            raise serializers.ValidationError(f"Tags are 1-64 characters of [a-z0-9_.-]: {', '.join(bad)}.")
        return list(dict.fromkeys(value))


def _raise(fields: dict[str, list[str]]) -> NoReturn:
    raise ServiceError.invalid(fields)


def _typed(data: Any, *, partial: bool) -> dict:
    if not isinstance(data, dict):
        raise ServiceError(
            "The request body must be a JSON object.", fields={"non_field_errors": ["Expected an object."]}
        )
    serializer = WorkflowFields(data=data, partial=partial)
    if not serializer.is_valid():
        _raise(validation_fields(serializer.errors))
    return dict(serializer.validated_data)


def clean_dependency(schedule: dict) -> dict:
    """`{"after": <workflow id>, "on": COMPLETED|FAILED|FINISHED}`: the id's form only here; that it
    is the user's own workflow, and no loop, the services check."""
    unknown = sorted(set(schedule) - {"after", "on"})
    if unknown:
        _raise({f"schedule.{key}": ["Unknown field; a dependency has after and on."] for key in unknown})
    try:
        after = uuid.UUID(str(schedule["after"]))
    except (ValueError, TypeError, AttributeError):
        _raise({"schedule.after": ["Must be the id of one of your workflows."]})
    on = schedule.get("on")
    if on not in DependencyOutcome.values:
        _raise({"schedule.on": [f"Must be one of {', '.join(DependencyOutcome.values)}."]})
    return {"after": str(after), "on": on}


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _month_day(value: Any) -> str | None:
    if not _is_integer(value) or not (1 <= value <= 31 or -31 <= value <= -1):
        return "Must be a day of the month, 1 to 31, or -31 to -1 counting from the month's end."
    return None


def _weekday(value: Any) -> str | None:
    if not isinstance(value, str) or value.upper() not in WEEKDAYS:
        return f"Must be one of {', '.join(WEEKDAYS)}."
    return None


def _integer_in(low: int, high: int, what: str):
    def check(value: Any) -> str | None:
        if not _is_integer(value) or not low <= value <= high:
            return f"Must be {what}, an integer from {low} to {high}."
        return None

    return check


_RECURRENCE_ITEMS = {
    "by_day": _weekday,
    "by_month_day": _month_day,
    "by_month": _integer_in(1, 12, "a month"),
    "by_hour": _integer_in(0, 23, "an hour"),
    "by_minute": _integer_in(0, 59, "a minute"),
}


def clean_recurrence(schedule: dict) -> dict:
    """A recurrence object, every bad part named (`schedule.by_day.2`, as DRF names list items).

    Stored normalized, which changes no run: `frequency` in lower case, `by_day` in upper case (both
    are read in any case) and week order, the other lists sorted, repeats dropped; `interval` only
    when given.
    """
    errors: dict[str, list[str]] = {}
    for key in sorted(set(schedule) - RECURRENCE_KEYS):
        errors[f"schedule.{key}"] = [f"Unknown field; a recurrence object has {', '.join(sorted(RECURRENCE_KEYS))}."]
    frequency = schedule.get("frequency")
    if "frequency" not in schedule:
        errors["schedule.frequency"] = [f"Required in a recurrence object: one of {', '.join(FREQUENCIES)}."]
    elif not isinstance(frequency, str) or frequency.lower() not in FREQUENCIES:
        errors["schedule.frequency"] = [f"Must be one of {', '.join(FREQUENCIES)}."]
    interval = schedule.get("interval", 1)
    if not _is_integer(interval) or not 1 <= interval <= MAX_RECURRENCE_INTERVAL:
        errors["schedule.interval"] = [f"Must be an integer from 1 to {MAX_RECURRENCE_INTERVAL}."]
    for key, check in _RECURRENCE_ITEMS.items():
        if key not in schedule:
            continue
        values = schedule[key]
        if not isinstance(values, list) or not values:
            errors[f"schedule.{key}"] = ["Must be a non-empty list."]
            continue
        for index, value in enumerate(values):
            problem = check(value)
            if problem:
                errors[f"schedule.{key}.{index}"] = [problem]
    if errors:
        _raise(errors)
    cleaned: dict[str, Any] = {"frequency": str(frequency).lower()}
    if "interval" in schedule:
        cleaned["interval"] = interval
    for key in RECURRENCE_PARTS:
        if key == "by_day" and key in schedule:
            given = {day.upper() for day in schedule[key]}
            cleaned[key] = [day for day in WEEKDAYS if day in given]
        elif key in schedule:
            cleaned[key] = sorted(set(schedule[key]))
    return cleaned


def clean_schedule(schedule: Any, zone_name: str, *, now: datetime) -> dict:
    if isinstance(schedule, dict) and "after" in schedule:
        return clean_dependency(schedule)
    if isinstance(schedule, dict) and set(schedule) & RECURRENCE_KEYS and not {"cron", "rrule", "at"} & set(schedule):
        return clean_recurrence(schedule)
    if not isinstance(schedule, dict) or len(schedule) != 1:
        _raise(
            {
                "schedule": [
                    'Must be one of {"cron": ...}, {"rrule": ...}, {"at": ...}, a recurrence object '
                    '{"frequency": ..., ...} or {"after": ..., "on": ...}.'
                ]
            }
        )
    ((key, value),) = schedule.items()
    if key not in ("cron", "rrule", "at"):
        _raise({f"schedule.{key}": ["Unknown field; use cron, rrule, at, frequency or after."]})
    if not isinstance(value, str) or not value.strip() or len(value) > 1024:
        _raise({f"schedule.{key}": ["Must be a non-empty string."]})
    try:
        if key == "cron":
            return {"cron": parse_cron(value)}
        if key == "rrule":
            anchor = now.astimezone(get_zone(zone_name)).replace(tzinfo=None, second=0, microsecond=0)
            parse_rrule(value, anchor)
            return {"rrule": value.strip().removeprefix("RRULE:")}
        at = parse_at(value)
    except ScheduleError as exc:
        _raise({f"schedule.{key}": [str(exc)]})
    if at <= now:
        _raise({"schedule.at": ["Must be in the future."]})
    return {"at": format_timestamp(at)}


def check_timing(fields: dict, *, now: datetime, anchor: datetime) -> None:
    """Cross-field rules of the timing fields; `fields` holds the complete resulting values and
    `anchor` is the workflow's creation time, where a rule without start_at starts."""
    try:
        get_zone(fields["timezone"])
    except ScheduleError as exc:
        _raise({"timezone": [str(exc)]})
    if (fields.get("interval") is None) == (fields.get("schedule") is None):
        _raise({"interval": ["Give exactly one of interval and schedule."]})
    start_at, end_at = fields.get("start_at"), fields.get("end_at")
    if end_at is not None and end_at <= now:
        _raise({"end_at": ["Must be in the future."]})
    if start_at is not None and end_at is not None and end_at <= start_at:
        _raise({"end_at": ["Must be after start_at."]})
    schedule = fields.get("schedule")
    plan = Plan(
        interval=fields.get("interval"),
        schedule=schedule,
        timezone=fields["timezone"],
        start_at=start_at,
        end_at=end_at,
        anchor=anchor,
    )
    try:
        if is_recurrence(schedule):
            zone = get_zone(fields["timezone"])
            rule_start = (start_at or anchor).astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
            check_recurrence(schedule, rule_start)
        first_run = plan.first_run(now) if plan.runs_on_clock else None
    except ScheduleError as exc:
        # Some rules are empty only from a given start (dateutil refuses BYHOUR=1 every two hours
        # from an even hour).
        part = exc.field or ("rrule" if schedule and "rrule" in schedule else None)
        _raise({f"schedule.{part}" if part else "schedule": [str(exc)]})
    if plan.runs_on_clock and first_run is None:
        _raise({"schedule" if schedule else "end_at": ["The schedule never runs before end_at."]})


def clean_create(data: Any, *, now: datetime | None = None) -> dict:
    """Validated fields for a new workflow created at `now`, with defaults applied."""
    now = now or dj_timezone.now()
    alias = None
    if isinstance(data, dict) and "kind" in data:
        kind, alias = canonical_kind(data["kind"])
        data = {**data, "kind": kind}
    fields = _typed(data, partial=False)
    fields.setdefault("timezone", "UTC")
    fields.setdefault("max_consecutive_job_failures_allowed", 3)
    fields.setdefault("concurrency_policy", ConcurrencyPolicy.FORBID)
    fields.setdefault("tags", [])
    fields.setdefault("description", "")
    fields.setdefault("metadata", {})
    fields.setdefault("interval", None)
    fields.setdefault("start_at", None)
    fields.setdefault("end_at", None)
    fields["name"] = fields["name"].strip()
    fields["payload"] = validate_aliased_payload(fields["kind"], fields["payload"], alias=alias)
    if fields.get("schedule") is not None:
        fields["schedule"] = clean_schedule(fields["schedule"], fields.get("timezone", "UTC"), now=now)
    else:
        fields["schedule"] = None
    check_timing(fields, now=now, anchor=now)
    return fields


def current_fields(workflow: Workflow) -> dict:
    """A workflow's values as `clean_update` compares them with an update."""
    return {name: getattr(workflow, name) for name in ("kind", *UPDATABLE, "start_at", "end_at", "created_at")}


def clean_update(current: dict, data: Any) -> dict:
    """The fields an update sets (only those that change), validated against the current values."""
    now = dj_timezone.now()
    if isinstance(data, dict):
        if "kind" in data:
            _raise({"kind": ["The kind of a workflow cannot be changed."]})
        fixed = sorted(set(data) & {"start_at", "end_at"})
        if fixed:
            _raise({name: ["Cannot be changed after creation."] for name in fixed})
    fields = _typed(data, partial=True)
    if not fields:
        _raise({"non_field_errors": [f"Give at least one of: {', '.join(UPDATABLE)}."]})
    if "interval" in fields and "schedule" in fields:
        if (fields["interval"] is None) == (fields["schedule"] is None):
            _raise({"interval": ["Give exactly one of interval and schedule."]})
    elif "interval" in fields:
        if fields["interval"] is None:
            _raise({"interval": ["Give a schedule instead of clearing the interval."]})
        fields["schedule"] = None
    elif "schedule" in fields:
        if fields["schedule"] is None:
            _raise({"schedule": ["Give an interval instead of clearing the schedule."]})
        fields["interval"] = None
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    if "payload" in fields:
        fields["payload"] = validate_aliased_payload(current["kind"], fields["payload"], infer=True)
    zone = fields.get("timezone", current["timezone"])
    if fields.get("schedule") is not None:
        fields["schedule"] = clean_schedule(fields["schedule"], zone, now=now)
    if {"interval", "schedule", "timezone"} & set(fields):
        check_timing({**current, **fields}, now=now, anchor=current["created_at"])
    return {name: value for name, value in fields.items() if current.get(name) != value}


def workflow_problems(data: Any, *, current: dict | None = None, now: datetime | None = None) -> dict[str, list[str]]:
    """Every problem of a create body (or, with `current`, an update body) at once.

    `clean_create` and `clean_update` stop at the first stage that fails (types, then payload, then
    schedule, then the timing rules): right for an API answer, but a form shows every input's
    problem together. So the same checks run here each on their own inputs as well, and their
    complaints are merged. Empty when nothing is wrong with the fields themselves.
    """
    now = now or dj_timezone.now()
    problems: dict[str, list[str]] = {}

    def collect(check, *args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except ServiceError as error:
            for name, messages in (error.fields or {"non_field_errors": [error.message]}).items():
                known = problems.setdefault(name, [])
                known.extend(message for message in messages if message not in known)
        except ScheduleError as error:  # only get_zone's
            known = problems.setdefault("timezone", [])
            if str(error) not in known:
                known.append(str(error))
        return None

    if not isinstance(data, dict):
        collect(_typed, data, partial=current is not None)
        return problems
    alias = None
    if current is None:
        kind, alias = canonical_kind(data.get("kind"))
        data = {**data, "kind": kind}
        collect(clean_create, data, now=now)
    else:
        kind = current["kind"]
        collect(clean_update, current, data)
    collect(_typed, data, partial=current is not None)
    if kind in WorkflowKind.values and "payload" in data:
        collect(validate_aliased_payload, kind, data["payload"], alias=alias, infer=current is not None)
    zone = data.get("timezone", current["timezone"] if current else "UTC")
    if isinstance(zone, str) and collect(get_zone, zone) is not None and data.get("schedule") is not None:
        collect(clean_schedule, data["schedule"], zone, now=now)
    return problems


TIMING_FIELDS = ("interval", "schedule", "timezone", "start_at", "end_at")


def clean_timing(data: dict, *, current: dict | None = None, now: datetime) -> dict:
    """The timing fields of `data` (`interval` or `schedule`, `timezone`, and for a new workflow
    `start_at` and `end_at`) validated as creating the workflow now, or updating `current`, would:
    the complete resulting values, for a preview of the runs."""
    given = {name: data[name] for name in TIMING_FIELDS if name in data}
    if current is not None:
        given = {name: value for name, value in given.items() if name not in ("start_at", "end_at")}
    fields = _typed(given, partial=True)
    base = current or {"timezone": "UTC", "start_at": None, "end_at": None, "created_at": now}
    fields = {
        "interval": fields.get("interval"),
        "schedule": fields.get("schedule"),
        "timezone": fields.get("timezone", base["timezone"]),
        "start_at": fields.get("start_at", base["start_at"]),
        "end_at": fields.get("end_at", base["end_at"]),
    }
    if fields["schedule"] is not None:
        try:
            get_zone(fields["timezone"])
        except ScheduleError as exc:
            _raise({"timezone": [str(exc)]})
        fields["schedule"] = clean_schedule(fields["schedule"], fields["timezone"], now=now)
    check_timing(fields, now=now, anchor=base["created_at"])
    return {**fields, "anchor": base["created_at"]}
