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

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}
