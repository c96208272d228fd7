"""The one domain error that services raise; the API maps it onto the error format of the contract."""

from __future__ import annotations

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
