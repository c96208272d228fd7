"""OpenAPI post-processing: every operation documents the shared error format of the contract."""

from __future__ import annotations

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
