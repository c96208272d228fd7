"""Maps every failure of an API request onto `{"error": {"code", "message", "fields"?}}`."""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from chronoverse.errors import ServiceError, error_body, flatten_messages, invalid_message, validation_fields

logger = logging.getLogger(__name__)

_CODE_BY_EXCEPTION: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, "invalid_argument"),
    (exceptions.ValidationError, "invalid_argument"),
    (exceptions.NotAuthenticated, "unauthenticated"),
    (exceptions.AuthenticationFailed, "unauthenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.UnsupportedMediaType, "invalid_argument"),
    (exceptions.NotAcceptable, "invalid_argument"),
    (exceptions.Throttled, "rate_limited"),
]


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, ServiceError):
        response = Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
        if exc.retry_after is not None:
            response["Retry-After"] = retry_after_header(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "Request body is too large."), status=413)

    if not isinstance(exc, exceptions.APIException):
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        return Response(error_body("internal", "Internal server error."), status=500)
    code = next(
        (code for exc_type, code in _CODE_BY_EXCEPTION if isinstance(exc, exc_type)),
        "invalid_argument" if exc.status_code < 500 else "internal",
    )
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.ValidationError):
        fields = validation_fields(exc.detail)
        body = error_body(code, invalid_message(fields), fields)
    else:
        body = error_body(code, " ".join(flatten_messages(exc.detail)))
    status = exc.status_code
    if isinstance(exc, exceptions.UnsupportedMediaType):
        # The contract: a body that is not JSON is malformed JSON, a 400.
        status = 400
        body = error_body(code, "The request body must be JSON (Content-Type: application/json).")
    # drf-stubs do not declare Throttled.wait, which Throttled.__init__ sets.
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:  # type: ignore[attr-defined]
        headers["Retry-After"] = retry_after_header(exc.wait)  # type: ignore[attr-defined]
    # APIView.handle_exception sets auth_header on the exceptions that need a challenge.
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    return Response(body, status=status, headers=headers)


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_error(code: str, message: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse(error_body(code, message), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
