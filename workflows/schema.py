"""OpenAPI shapes of a workflow's `payload` and `schedule`, so that clients (and fuzzers) can build
valid bodies. In answers the payload is any of the kinds' payload schemas (`{}` is a valid
HEARTBEAT and also the start of other kinds', so anyOf rather than oneOf); a new workflow's body is
one of a variant per kind and timing, each with its kind's payload and exactly one of `interval`
and `schedule`; the schedule is one of its forms."""

from __future__ import annotations

import copy

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from rest_framework import serializers

from chronoverse.schema import strict_request
from chronoverse.serializers import StrictSerializer
from workflows.models import DependencyOutcome
from workflows.payloads import SCHEMAS
from workflows.schedule import FREQUENCIES, MAX_RECURRENCE_INTERVAL, WEEKDAYS
from workflows.validation import TAG


class CronSchedule(StrictSerializer):
    cron = serializers.CharField(help_text="Five fields, e.g. */5 * * * *, in the workflow's timezone.")


class RruleSchedule(StrictSerializer):
    rrule = serializers.CharField(help_text="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0.")


class RecurrenceSchedule(StrictSerializer):
    """The rule of the equivalent RRULE, in JSON; anchored at start_at, or else the creation time."""

    frequency = serializers.ChoiceField(
        choices=list(FREQUENCIES), help_text="The RRULE's FREQ; read in any case, stored in lower case."
    )
    interval = serializers.IntegerField(
        min_value=1, max_value=MAX_RECURRENCE_INTERVAL, required=False, help_text="Every n-th period; default 1."
    )
    by_day = serializers.ListField(
        child=serializers.ChoiceField(choices=list(WEEKDAYS)),
        min_length=1,
        required=False,
        help_text="Weekdays (BYDAY); read in any case, stored in upper case.",
    )
    by_month_day = serializers.ListField(
        child=serializers.IntegerField(min_value=-31, max_value=31),
        min_length=1,
        required=False,
        help_text="Days of the month, 1 to 31 or -31 to -1 from its end (0 is refused); a month without the "
        "day is skipped.",
    )
    by_month = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=12), min_length=1, required=False
    )
    by_hour = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=23), min_length=1, required=False
    )
    by_minute = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=59), min_length=1, required=False
    )


class DependencySchedule(StrictSerializer):
    after = serializers.UUIDField(
        help_text="One of your workflows: each of its jobs that ends as `on` says starts one run."
    )
    on = serializers.ChoiceField(choices=DependencyOutcome.choices)


class AtSchedule(StrictSerializer):
    at = serializers.DateTimeField(help_text="One run at this time (RFC 3339), then the workflow ends itself.")


def _refs(auto_schema, direction, serializer_classes) -> list[dict]:
    return [auto_schema.resolve_serializer(cls, direction).ref for cls in serializer_classes]


class PayloadFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "workflows.validation.PayloadField"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        shapes = _refs(auto_schema, direction, SCHEMAS.values())
        if direction == "request":
            # Only a string that holds an object is accepted: it starts with `{` and ends with `}`.
            shapes.append(
                {
                    "type": "string",
                    "pattern": r"^\s*\{[\s\S]*\}\s*$",
                    "description": "The same object written as a JSON string.",
                }
            )
        return {"anyOf": shapes}


class ScheduleFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "workflows.validation.ScheduleField"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        shapes = (CronSchedule, RruleSchedule, RecurrenceSchedule, AtSchedule, DependencySchedule)
        return {"oneOf": _refs(auto_schema, direction, shapes)}


class MetadataFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "workflows.validation.MetadataField"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        return {"type": "object", "additionalProperties": {}}


class KindPayloadExtension(OpenApiSerializerExtension):
    """A payload may repeat its workflow's kind (as the seeds' examples do): only that one."""

    target_class = "workflows.payloads._KindPayload"
    match_subclasses = True
    priority = 1  # before the StrictSerializer extension, which would match first

    def map_serializer(self, auto_schema, direction) -> dict:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["properties"]["kind"] = {"type": "string", "enum": [str(self.target.KIND)]}
        return strict_request(schema, direction)


class WorkflowFieldsExtension(OpenApiSerializerExtension):
    target_class = "workflows.validation.WorkflowFields"
    priority = 1

    def map_serializer(self, auto_schema, direction) -> dict:
        base = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        base["properties"]["tags"]["items"]["pattern"] = TAG.pattern
        if direction != "request":
            return base
        variants = []
        for kind, payload in SCHEMAS.items():
            payload_ref = auto_schema.resolve_serializer(payload, direction).ref
            for timing, other in (("interval", "schedule"), ("schedule", "interval")):
                variant = copy.deepcopy(base)
                variant["title"] = f"{kind} on {timing}"
                variant["properties"]["kind"] = {"type": "string", "enum": [str(kind)]}
                payload_field = variant["properties"]["payload"]
                strings = [shape for shape in payload_field["anyOf"] if shape.get("type") == "string"]
                payload_field["anyOf"] = [payload_ref, *strings]
                variant["properties"][timing].pop("nullable", None)
                del variant["properties"][other]
                variant["required"] = [*variant["required"], timing]
                variants.append(strict_request(variant, direction))
        return {
            "oneOf": variants,
            "description": "One variant per kind and timing. `kind` also takes the seeds' aliases, in any case: "
            '`http` (payload `{"url", "method"?, "timeout"?, "expected_status_code"?, "headers"?}`, '
            "a HEARTBEAT HTTP check), `docker` (CONTAINER) and `script` (payload "
            '`{"script", "image"?}`, a CONTAINER running `sh -c <script>`); the canonical form is stored.',
        }
