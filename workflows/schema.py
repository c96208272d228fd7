"""OpenAPI shapes of a workflow's `payload` and `schedule`, so that clients (and fuzzers) can build
valid bodies: the payload is any of the kinds' payload schemas (the kind field says which applies;
`{}` is a valid HEARTBEAT and also the start of other kinds', so anyOf rather than oneOf), and the
schedule is one of its forms."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from chronoverse.serializers import StrictSerializer
from workflows.payloads import SCHEMAS


class CronSchedule(StrictSerializer):
    cron = serializers.CharField(help_text="Five fields, e.g. */5 * * * *, in the workflow's timezone.")


class RruleSchedule(StrictSerializer):
    rrule = serializers.CharField(help_text="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0.")


class AtSchedule(StrictSerializer):
    at = serializers.DateTimeField(help_text="One run at this time (RFC 3339), then the workflow ends itself.")


def _refs(auto_schema, direction, serializer_classes) -> list[dict]:
    return [auto_schema.resolve_serializer(cls, direction).ref for cls in serializer_classes]


class PayloadFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "workflows.validation.PayloadField"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        shapes = _refs(auto_schema, direction, SCHEMAS.values())
        if direction == "request":
            shapes.append({"type": "string", "description": "The same object written as a JSON string."})
        return {"anyOf": shapes}


class ScheduleFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "workflows.validation.ScheduleField"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        return {"oneOf": _refs(auto_schema, direction, (CronSchedule, RruleSchedule, AtSchedule))}
