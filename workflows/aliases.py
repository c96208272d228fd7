"""The seeds' kinds as input aliases (the contract's "Workflows"): `http` is a HEARTBEAT HTTP check
whose `url` is the check's `endpoint`, `docker` is CONTAINER, and `script` is a CONTAINER running
`sh -c <script>` in the given image or the operator's SCRIPT_DEFAULT_IMAGE. Kinds are read without
regard to case. Only the canonical kind and payload are ever stored or returned; errors name the
field the user sent (`payload.url`, `payload.script`), not the one it became.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings

from chronoverse.errors import ServiceError
from workflows.models import WorkflowKind
from workflows.payloads import coerce_payload, validate_payload

KIND_ALIASES: dict[str, str] = {
    "http": WorkflowKind.HEARTBEAT,
    "docker": WorkflowKind.CONTAINER,
    "script": WorkflowKind.CONTAINER,
}
# The keys each aliased payload takes (`kind` may repeat the workflow's kind, as everywhere).
HTTP_KEYS = {"url", "method", "timeout", "expected_status_code", "headers", "kind"}
SCRIPT_KEYS = {"script", "image", "kind"}
MAX_SCRIPT_CHARS = 8192  # as any one argument of a CONTAINER command


def canonical_kind(raw: Any) -> tuple[Any, str | None]:
    """The kind as stored, and the alias it was given as (None for a canonical kind, in any case).
    Anything unknown is returned as given, for the kind's own validation to refuse by name."""
    if not isinstance(raw, str):
        return raw, None
    name = raw.strip()
    if name.upper() in WorkflowKind.values:
        return name.upper(), None
    if name.lower() in KIND_ALIASES:
        return KIND_ALIASES[name.lower()], name.lower()
    return raw, None


def _form(kind: str, alias: str | None, payload: dict, *, infer: bool) -> str | None:
    """Which alias shape the payload is in: the alias named, or (with `infer`: on an update, where
    the kind is not sent again) the shape its keys show: a HEARTBEAT with `url`, a CONTAINER with
    `script`. A new HEARTBEAT with `url` is not guessed at: that is most likely a typo."""
    if alias in ("http", "script"):
        return alias
    if not infer:
        return None
    if kind == WorkflowKind.HEARTBEAT and "url" in payload and "endpoint" not in payload:
        return "http"
    if kind == WorkflowKind.CONTAINER and "script" in payload:
        return "script"
    return None


def _refuse(fields: dict[str, list[str]]) -> NoReturn:
    raise ServiceError.invalid(fields)


def _from_http(payload: dict, kind: str) -> dict:
    unknown = sorted(set(payload) - HTTP_KEYS)
    if unknown:
        _refuse({f"payload.{key}": ["Unknown field."] for key in unknown})
    if "url" not in payload:
        _refuse({"payload.url": ["This field is required."]})
    check = {("endpoint" if key == "url" else key): value for key, value in payload.items()}
    if "kind" in check:
        check["kind"] = _repeated_kind(check["kind"], kind)
    return check


def _from_script(payload: dict, kind: str) -> dict:
    unknown = sorted(set(payload) - SCRIPT_KEYS)
    if unknown:
        _refuse({f"payload.{key}": ["Unknown field."] for key in unknown})
    script = payload.get("script")
    if not isinstance(script, str) or not script.strip():
        _refuse({"payload.script": ["A non-empty string of shell commands is required."]})
    if len(script) > MAX_SCRIPT_CHARS:
        _refuse({"payload.script": [f"At most {MAX_SCRIPT_CHARS} characters."]})
    container = {"image": payload.get("image", settings.SCRIPT_DEFAULT_IMAGE), "command": ["sh", "-c", script]}
    if "kind" in payload:
        container["kind"] = _repeated_kind(payload["kind"], kind)
    return container


def _repeated_kind(value: Any, kind: str) -> Any:
    # A payload repeating its kind may use the alias or any case: it is stored as the canonical kind.
    repeated, _ = canonical_kind(value)
    return kind if repeated == kind else value


# What a canonical field was called in each alias shape, for error messages.
_SENT_AS = {"http": {"endpoint": "url"}, "script": {"command": "script"}}


def validate_aliased_payload(kind: str, raw: Any, *, alias: str | None = None, infer: bool = False) -> dict:
    """`workflows.payloads.validate_payload`, also for the alias shapes: the stored, canonical payload."""
    payload = coerce_payload(raw)
    form = _form(kind, alias, payload, infer=infer)
    if form is None:
        if "kind" in payload:
            payload = {**payload, "kind": _repeated_kind(payload["kind"], kind)}
        return validate_payload(kind, payload)
    canonical = _from_http(payload, kind) if form == "http" else _from_script(payload, kind)
    try:
        return validate_payload(kind, canonical)
    except ServiceError as error:
        renames = _SENT_AS[form]
        fields: dict[str, list[str]] = {}
        for name, messages in (error.fields or {}).items():
            parts = name.split(".")
            if len(parts) > 1 and parts[1] in renames:
                name = f"payload.{renames[parts[1]]}"
            fields.setdefault(name, []).extend(messages)
        raise ServiceError.invalid(fields) from None
