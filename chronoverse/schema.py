"""OpenAPI: every operation documents the shared error format of the contract, and every strict
request body says that it takes no other keys."""

from __future__ import annotations

import copy

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter

from chronoverse.pagination import DEFAULT_LIMIT


def page_parameters(*, maximum: int = DEFAULT_LIMIT) -> list[OpenApiParameter]:
    """`cursor` and `limit` of a paged list, with the bounds the list enforces."""
    return [
        OpenApiParameter("cursor", str, description="Opaque cursor from the previous page"),
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": maximum, "default": maximum},
            description=f"Page size, 1-{maximum}",
        ),
    ]


def strict_request(schema: dict, direction: str) -> dict:
    """A StrictSerializer answers 400 to an undeclared key: as a request body it is closed."""
    if direction == "request" and schema.get("type") == "object":
        schema["additionalProperties"] = False
    return schema


class StrictSerializerExtension(OpenApiSerializerExtension):
    target_class = "chronoverse.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict:
        serializer = self.target
        if getattr(serializer, "partial", False) and getattr(serializer, "WHOLE_ON_PATCH", False):
            # drf-spectacular documents every PATCH body as partial; this one is validated whole.
            serializer = copy.copy(serializer)
            serializer.partial = False
        return strict_request(auto_schema._map_serializer(serializer, direction, bypass_extensions=True), direction)


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "invalid_argument",
                        "unauthenticated",
                        "permission_denied",
                        "not_found",
                        "conflict",
                        "payload_too_large",
                        "rate_limited",
                        "internal",
                    ],
                },
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Only for validation errors: the offending fields (nested ones dotted).",
                },
            },
        }
    },
}

_COMMON = {
    "400": "Invalid input (malformed JSON, wrong types, unknown fields, malformed cursor).",
    "401": "Missing, invalid, expired or revoked credentials.",
    "403": "A read-scoped token tried to write, or a session write lacked its CSRF token.",
    "404": "Not found, or it belongs to another user.",
    "413": "The request body is over 1 MiB.",
    "429": "Rate limited; `Retry-After` says when to try again.",
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in _COMMON.items():
                if status == "401" and operation.get("security") == [{}]:
                    continue
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result
