"""Serializer pieces shared by every app's API."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models
from rest_framework import serializers


def format_timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with milliseconds and a `Z`, as the contract writes every time."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


class TimestampField(serializers.DateTimeField):
    # DRF's DateTimeField.to_representation also returns None for None; its stubs say `str`.
    def to_representation(self, value: datetime | None) -> str | None:  # type: ignore[override]
        return format_timestamp(value)


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: TimestampField,
    }


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not declare, so a typo is a 400 naming the field, not a silent no-op."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of quietly turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer that must be a JSON number: `"5"`, `5.5` and `true` are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StringMapField(serializers.DictField):
    """A JSON object of strings to strings (headers, environment variables)."""

    def __init__(self, *, max_items: int = 100, key_max_length: int = 256, value_max_length: int = 8192, **kwargs):
        kwargs.setdefault(
            "child", StrictCharField(allow_blank=True, trim_whitespace=False, max_length=value_max_length)
        )
        super().__init__(**kwargs)
        self.max_items = max_items
        self.key_max_length = key_max_length

    def to_internal_value(self, data):
        if isinstance(data, dict):
            if len(data) > self.max_items:
                raise serializers.ValidationError(f"At most {self.max_items} entries.")
            for key in data:
                if not key or len(key) > self.key_max_length:
                    raise serializers.ValidationError(f"Keys must be 1 to {self.key_max_length} characters.")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID written as a string; DRF would otherwise read the number 1 as UUID(int=1)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
