"""The payload schema of each workflow kind (the contract's "Payloads"), with its defaults."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from django.conf import settings
from django.core.validators import URLValidator
from rest_framework import serializers

from chronoverse.errors import ServiceError, validation_fields
from chronoverse.serializers import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
    StringMapField,
)
from workflows.models import DEFAULT_ACK_TIMEOUT, DEFAULT_PING_GRACE, WorkflowKind

HTTP_URL = URLValidator(schemes=["http", "https"], message="Must be an http:// or https:// URL.")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAX_DOCKERFILE_BYTES = 256 * 1024
# A client socket's name, as the client announces it in its first message (jobs.consumers).
CLIENT_NAME = re.compile(r"^[a-z0-9_.-]{1,64}$")
# Every connected client of the name receives the message with each event: it stays small.
MAX_CLIENT_MESSAGE_BYTES = 64 * 1024
# Docker's reference grammar: [registry[:port]/]path[:tag][@digest], path components lowercase.
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_REGISTRY = re.compile(r"^(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*)(?::[0-9]+)?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
# RFC 9110 field names (tokens); values without control characters (CR/LF would split the request).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[^\x00-\x08\x0a-\x1f\x7f]*$")
# `uid[:gid]` or a user (and group) name known to the image.
_CONTAINER_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$")
# Mounting over these would hand a job the kernel's or the devices' interfaces.
_FORBIDDEN_TARGETS = ("/proc", "/sys", "/dev")


def validate_headers(value: dict) -> dict:
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            raise serializers.ValidationError(f"{name!r} is not a valid header name.")
        if not _HEADER_VALUE.match(text):
            raise serializers.ValidationError(
                f"The value of {name!r} may not contain line breaks or control characters."
            )
    return value


def is_image_reference(value: str) -> bool:
    if not value or len(value) > 255:
        return False
    name, _, digest = value.partition("@")
    if digest and not _DIGEST.match(digest):
        return False
    components = name.split("/")
    last, colon, tag = components[-1].partition(":")
    if colon and not _TAG.match(tag):
        return False
    components[-1] = last
    first = components[0]
    # The first component names a registry only if it looks like a host (a dot, a port, localhost).
    if len(components) > 1 and ("." in first or ":" in first or first == "localhost"):
        if not _REGISTRY.match(first):
            return False
        components = components[1:]
    return all(_PATH_COMPONENT.match(component) for component in components)


class _KindPayload(StrictSerializer):
    # The seeds' examples repeat the kind inside the payload; it must then match the workflow's.
    kind = StrictCharField(required=False)
    KIND: str = ""

    def validate_kind(self, value: str) -> str:
        if value != self.KIND:
            raise serializers.ValidationError(f"Must be {self.KIND}, the workflow's kind.")
        return value


class PingSettings(StrictSerializer):
    grace = StrictIntegerField(
        min_value=1, max_value=86400, default=DEFAULT_PING_GRACE, help_text="Seconds either side of a slot."
    )


class HeartbeatPayload(_KindPayload):
    KIND = WorkflowKind.HEARTBEAT
    endpoint = StrictCharField(required=False, max_length=2048, validators=[HTTP_URL])
    # A dead man's switch: instead of calling out, the workflow waits for the user's job to ping it.
    ping = PingSettings(required=False)
    method = serializers.ChoiceField(choices=["GET", "HEAD"], default="GET")
    expected_status_code = StrictIntegerField(min_value=100, max_value=599, default=200)
    timeout = StrictIntegerField(min_value=1, max_value=300, default=10)
    headers = StringMapField(required=False, validators=[validate_headers])

    def validate(self, attrs: dict) -> dict:
        if "ping" in attrs and "endpoint" in attrs:
            raise serializers.ValidationError({"ping": ["A heartbeat either calls an endpoint or waits for pings."]})
        # Without an endpoint the heartbeat is a bare liveness tick: HTTP settings would do nothing.
        http_only = {"method", "expected_status_code", "timeout", "headers"} & set(self.initial_data)
        if "endpoint" not in attrs and http_only:
            raise serializers.ValidationError(
                {name: ["Only meaningful with an endpoint."] for name in sorted(http_only)}
            )
        return attrs


class VolumeSerializer(StrictSerializer):
    source = StrictCharField(max_length=4096)  # type: ignore[assignment]  # a declared field; the serializer metaclass takes it off the class
    target = StrictCharField(max_length=4096)
    read_only = StrictBooleanField(default=False)  # type: ignore[assignment]  # a declared field; the serializer metaclass takes it off the class

    def validate_source(self, value: str) -> str:
        if value.startswith("/"):
            allowed = settings.CONTAINER_HOST_PATH_ALLOWLIST
            normalized = posixpath.normpath(value)
            if not any(normalized == root or normalized.startswith(root.rstrip("/") + "/") for root in allowed):
                raise serializers.ValidationError("Host paths are not allowed here; use a named volume.")
            return normalized
        if not _VOLUME_NAME.match(value):
            raise serializers.ValidationError("Must be a volume name ([A-Za-z0-9][A-Za-z0-9_.-]*).")
        return value

    def validate_target(self, value: str) -> str:
        if not value.startswith("/") or ".." in value.split("/"):
            raise serializers.ValidationError("Must be an absolute path inside the container.")
        normalized = posixpath.normpath(value)
        if normalized == "/" or any(normalized == t or normalized.startswith(t + "/") for t in _FORBIDDEN_TARGETS):
            raise serializers.ValidationError("May not be /, nor under /proc, /sys or /dev.")
        return normalized


class ContainerPayload(_KindPayload):
    KIND = WorkflowKind.CONTAINER
    image = StrictCharField(required=False, max_length=255)
    dockerfile = StrictCharField(required=False, max_length=MAX_DOCKERFILE_BYTES, trim_whitespace=False)
    files = StringMapField(required=False, max_items=100, key_max_length=255, value_max_length=MAX_DOCKERFILE_BYTES)
    command = serializers.ListField(
        child=StrictCharField(allow_blank=True, trim_whitespace=False, max_length=8192), required=False, max_length=256
    )
    args = serializers.ListField(
        child=StrictCharField(allow_blank=True, trim_whitespace=False, max_length=8192), required=False, max_length=256
    )
    env = StringMapField(required=False, max_items=256)
    working_dir = StrictCharField(required=False, max_length=4096)
    timeout = StrictIntegerField(min_value=1, max_value=86400, default=3600)
    memory_mb = StrictIntegerField(required=False, min_value=6, max_value=1024 * 1024)
    cpus = StrictFloatField(required=False, min_value=0.01, max_value=1024)
    network = serializers.ChoiceField(choices=["bridge", "none"], default="bridge")
    volumes = VolumeSerializer(many=True, required=False, max_length=32)  # type: ignore[call-arg]  # many=True passes max_length to the ListSerializer; the stubs omit it
    user = StrictCharField(required=False, max_length=65)
    read_only = StrictBooleanField(default=False)  # type: ignore[assignment]  # a declared field; the serializer metaclass takes it off the class

    def validate_memory_mb(self, value: int) -> int:
        # The operator's caps apply when a payload is written; the executor also clamps stored
        # payloads to them, so lowering a cap never breaks existing workflows.
        if not self.context.get("stored") and value > settings.CONTAINER_MAX_MEMORY_MB:
            raise serializers.ValidationError(f"At most {settings.CONTAINER_MAX_MEMORY_MB} (this platform's limit).")
        return value

    def validate_cpus(self, value: float) -> float:
        if not self.context.get("stored") and value > settings.CONTAINER_MAX_CPUS:
            raise serializers.ValidationError(f"At most {settings.CONTAINER_MAX_CPUS:g} (this platform's limit).")
        return value

    def validate_user(self, value: str) -> str:
        if not _CONTAINER_USER.match(value):
            raise serializers.ValidationError("Must be uid[:gid] or a user[:group] name.")
        return value

    def validate_image(self, value: str) -> str:
        if not is_image_reference(value):
            raise serializers.ValidationError(
                "Must be an image reference such as 'busybox:latest' or 'registry.example.com/team/app:1.2'."
            )
        return value

    def validate_env(self, value: dict) -> dict:
        bad = [key for key in value if not _ENV_NAME.match(key)]
        if bad:
            raise serializers.ValidationError(f"Invalid variable names: {', '.join(sorted(bad))}.")
        return value

    def validate_working_dir(self, value: str) -> str:
        if not value.startswith("/"):
            raise serializers.ValidationError("Must be an absolute path.")
        return value

    def validate_files(self, value: dict) -> dict:
        for path in value:
            normalized = posixpath.normpath(path)
            if path.startswith("/") or normalized.startswith("..") or normalized in (".", "Dockerfile"):
                raise serializers.ValidationError(
                    f"{path!r}: use a relative path inside the build context (not the Dockerfile)."
                )
        return value

    def validate(self, attrs: dict) -> dict:
        if ("image" in attrs) == ("dockerfile" in attrs):
            raise serializers.ValidationError({"image": ["Give exactly one of 'image' and 'dockerfile'."]})
        if "files" in attrs and "dockerfile" not in attrs:
            raise serializers.ValidationError({"files": ["Only used with 'dockerfile'."]})
        return attrs


class WebhookPayload(_KindPayload):
    KIND = WorkflowKind.WEBHOOK
    url = StrictCharField(max_length=2048, validators=[HTTP_URL])
    method = serializers.ChoiceField(choices=["POST", "GET", "PUT", "PATCH", "DELETE"], default="POST")
    headers = StringMapField(required=False, validators=[validate_headers])
    body = serializers.JSONField(required=False)
    timeout = StrictIntegerField(min_value=1, max_value=300, default=10)
    expected_status_codes = serializers.ListField(
        child=StrictIntegerField(min_value=100, max_value=599), required=False, allow_empty=False, max_length=50
    )
    retries = StrictIntegerField(min_value=0, max_value=10, default=3)
    secret = StrictCharField(required=False, max_length=1024, trim_whitespace=False)

    def validate_body(self, value: Any) -> Any:
        if not isinstance(value, str | dict):
            raise serializers.ValidationError("Must be a string or a JSON object.")
        if len(json.dumps(value)) > 256 * 1024:
            raise serializers.ValidationError("At most 256 KiB.")
        return value


class WebsocketPayload(_KindPayload):
    KIND = WorkflowKind.WEBSOCKET
    client_name = StrictCharField(
        max_length=64,
        trim_whitespace=False,
        help_text="The client sockets that receive the events: those that connect with this name.",
    )
    message = serializers.JSONField(required=False, help_text="Sent with each event: a string or a JSON object.")
    ack_timeout = StrictIntegerField(
        min_value=1,
        max_value=3600,
        default=DEFAULT_ACK_TIMEOUT,
        help_text="Seconds a job waits for an acknowledgement before it fails.",
    )

    def validate_client_name(self, value: str) -> str:
        if not CLIENT_NAME.match(value):
            raise serializers.ValidationError("Must be 1-64 characters of [a-z0-9_.-].")
        return value

    def validate_message(self, value: Any) -> Any:
        if not isinstance(value, str | dict):
            raise serializers.ValidationError("Must be a string or a JSON object.")
        if len(json.dumps(value).encode()) > MAX_CLIENT_MESSAGE_BYTES:
            raise serializers.ValidationError("At most 64 KiB.")
        return value


SCHEMAS: dict[str, type[_KindPayload]] = {
    WorkflowKind.HEARTBEAT: HeartbeatPayload,
    WorkflowKind.CONTAINER: ContainerPayload,
    WorkflowKind.WEBHOOK: WebhookPayload,
    WorkflowKind.WEBSOCKET: WebsocketPayload,
}


def coerce_payload(raw: Any) -> dict:
    """A JSON object, or a string holding one (as the seeds send it); anything else is refused."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ServiceError(
                "payload must be a JSON object.", fields={"payload": ["Must be a JSON object."]}
            ) from None
    if not isinstance(raw, dict):
        raise ServiceError("payload must be a JSON object.", fields={"payload": ["Must be a JSON object."]})
    return raw


def validate_payload(kind: str, raw: Any) -> dict:
    """The payload as stored: checked against its kind's schema, without the defaults filled in."""
    payload = coerce_payload(raw)
    schema = SCHEMAS[kind](data=payload)
    if not schema.is_valid():
        fields = {
            f"payload.{name}" if name != "non_field_errors" else "payload": messages
            for name, messages in validation_fields(schema.errors).items()
        }
        raise ServiceError.invalid(fields)
    return payload


def payload_with_defaults(kind: str, payload: dict) -> dict:
    """What executors read: the stored payload with every default of its kind applied (the
    operator's caps are not checked again here: the executor clamps to them)."""
    schema = SCHEMAS[kind](data=payload, context={"stored": True})
    schema.is_valid(raise_exception=True)
    return dict(schema.validated_data)
