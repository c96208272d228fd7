"""The one domain error that services raise; the API maps it onto the error format of the contract."""

from __future__ import annotations

from typing import Any

# Error codes of the contract and the HTTP status each one maps to.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_argument": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}


class ServiceError(Exception):
    """A request the domain refuses: `code` is one of STATUS_BY_CODE, `fields` names bad inputs."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_argument",
        fields: dict[str, list[str]] | None = None,
        retry_after: float | None = None,
    ):
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields
        self.retry_after = retry_after

    @classmethod
    def invalid(cls, fields: dict[str, list[str]]) -> ServiceError:
        """A 400 naming every bad input; the message quotes the first."""
        return cls(invalid_message(fields), fields=fields)

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]


def invalid_message(fields: dict[str, list[str]]) -> str:
    if list(fields) == ["non_field_errors"]:
        return fields["non_field_errors"][0]
    first = next(iter(fields))
    return f"Invalid value for '{first}': {fields[first][0]}"


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def flatten_messages(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {msg}" for key, value in detail.items() for msg in flatten_messages(value)]
    if isinstance(detail, list):
        return [msg for item in detail for msg in flatten_messages(item)]
    return [str(detail)]


def validation_fields(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail as `{field: [messages]}`; nested fields are dotted (`payload.image`)."""
    if not isinstance(detail, dict):
        return {"non_field_errors": flatten_messages(detail)}
    fields: dict[str, list[str]] = {}
    for key, value in detail.items():
        if isinstance(value, dict):
            for sub_key, messages in validation_fields(value).items():
                name = key if sub_key == "non_field_errors" else f"{key}.{sub_key}"
                fields.setdefault(name, []).extend(messages)
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    for sub_key, messages in validation_fields(item).items():
                        fields.setdefault(f"{key}.{index}.{sub_key}", []).extend(messages)
                elif item:
                    fields.setdefault(key, []).extend(flatten_messages(item))
        else:
            fields[key] = flatten_messages(value)
    return fields
