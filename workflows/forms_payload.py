"""The guided payload inputs of the workflow form: one group per kind, turned into the payload the
API takes, and a stored payload turned back into inputs (the edit form's prefill).

Inputs are read through an `Inputs` (a bound form's data or an edit form's initial values), so the
same code builds the payload from a POST and checks that a stored payload survives the round trip.
Nothing here judges a value: the services do; only what HTML cannot say (a number, JSON syntax, a
key given twice) is refused here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rest_framework.exceptions import ValidationError

from workflows.models import WorkflowKind
from workflows.payloads import payload_with_defaults

SCRIPT = "script"  # the API's `script` alias, offered as a kind of its own


@dataclass(frozen=True)
class Column:
    key: str  # the input is named `<editor>_<key>`, or `<editor>` when the key is empty
    label: str
    widget: str = "text"  # text | textarea | select
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RowEditor:
    """A list of rows the user adds and removes (command items, env variables, volumes...)."""

    name: str
    label: str
    item: str  # what one row is called, for the Add button and the row's labels
    columns: tuple[Column, ...]
    help_text: str = ""

    def input_name(self, column: Column) -> str:
        return f"{self.name}_{column.key}" if column.key else self.name


def _key_value(name: str, label: str, item: str, key_label: str, help_text: str = "") -> RowEditor:
    return RowEditor(name, label, item, (Column("name", key_label), Column("value", "Value")), help_text)


ROW_EDITORS: dict[str, RowEditor] = {
    editor.name: editor
    for editor in (
        _key_value("hb_headers", "Headers", "header", "Name"),
        RowEditor(
            "ct_command",
            "Command",
            "command item",
            (Column("", "Item"),),
            "The executable and its arguments, one per row; empty: the image's entrypoint and command.",
        ),
        RowEditor(
            "ct_args", "Arguments", "argument", (Column("", "Argument"),), "Appended to the command, one per row."
        ),
        _key_value("ct_env", "Environment", "variable", "Name"),
        RowEditor(
            "ct_volumes",
            "Volumes",
            "volume",
            (
                Column("source", "Volume name"),
                Column("target", "Path in the container"),
                Column("mode", "Access", "select", (("rw", "read-write"), ("ro", "read-only"))),
            ),
            "A named volume mounted at an absolute path.",
        ),
        RowEditor(
            "ct_files",
            "Files of the build context",
            "file",
            (Column("name", "Path"), Column("content", "Content", "textarea")),
            "Next to the Dockerfile, for its COPY and ADD lines; paths relative to the context.",
        ),
        _key_value("wh_headers", "Headers", "header", "Name"),
    )
}

HEARTBEAT_MODES = [
    ("tick", "Liveness tick: each run completes at once"),
    ("endpoint", "HTTP check of an endpoint"),
    ("ping", "Wait for pings from my own job (dead man's switch)"),
]
CONTAINER_SOURCES = [("image", "An image"), ("dockerfile", "A Dockerfile (built when saved)")]
BODY_FORMATS = [("none", "None"), ("json", "JSON object"), ("text", "Text")]
# Selects whose first option is the API's default: that option is left out of the payload.
DEFAULT_OPTIONS = {"hb_method": "GET", "ct_network": "bridge", "wh_method": "POST"}

Rows = list[tuple[str, ...]]


@dataclass
class Inputs:
    """What the form holds: `value(name)` a single input, `values(name)` a checkbox group or a list
    input, `rows(editor)` a row editor's rows; `fail` records a problem on an input."""

    value: Callable[[str], str]
    values: Callable[[str], list[str]]
    rows: Callable[[str], Rows]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, name: str) -> str:
        # Browsers send a textarea's line breaks as CRLF; the API's text keeps the user's LF.
        return self.value(name).replace("\r\n", "\n")

    def number(self, name: str, *, decimal: bool = False) -> int | float | None:
        raw = self.value(name).strip()
        if not raw:
            return None
        try:
            return float(raw) if decimal else int(raw)
        except ValueError:
            self.fail(name, "Enter a number." if decimal else "Enter a whole number.")
            return None

    def put_number(self, payload: dict, key: str, name: str, *, decimal: bool = False) -> None:
        number = self.number(name, decimal=decimal)
        if number is not None:
            payload[key] = number

    def put_text(self, payload: dict, key: str, name: str) -> None:
        text = self.value(name).strip()
        if text:
            payload[key] = text

    def put_choice(self, payload: dict, key: str, name: str) -> None:
        choice = self.value(name)
        if choice and choice != DEFAULT_OPTIONS.get(name):
            payload[key] = choice

    def mapping(self, editor: str, *, multiline: bool = False) -> dict[str, str] | None:
        """A key/value editor as a dict; rows left empty are skipped, a key given twice refused."""
        result: dict[str, str] = {}
        for key, value in self.rows(editor):
            if not key.strip() and not value:
                continue
            key = key.strip()
            if key in result:
                self.fail(editor, f"{key!r} is given twice.")
            result[key] = value.replace("\r\n", "\n") if multiline else value
        return result or None

    def items(self, editor: str) -> list[str] | None:
        """A list editor: rows kept in order, empty ones only dropped at the end."""
        items = [row[0] for row in self.rows(editor)]
        while items and not items[-1]:
            items.pop()
        return items or None

    def json_or_text(self, format_name: str, name: str) -> Any:
        """A body or message: None when not given, a JSON value, or the text as a string."""
        chosen = self.value(format_name) or "none"
        if chosen == "none":
            return None
        text = self.text(name)
        if chosen == "text":
            return text
        try:
            return json.loads(text)
        except ValueError as exc:
            self.fail(name, f"Not valid JSON: {exc}.")
            return None


def _heartbeat(inputs: Inputs) -> dict:
    mode = inputs.value("hb_mode") or "tick"
    if mode == "ping":
        ping: dict = {}
        inputs.put_number(ping, "grace", "hb_ping_grace")
        return {"ping": ping}
    if mode != "endpoint":
        return {}
    payload: dict[str, Any] = {"endpoint": inputs.value("hb_endpoint").strip()}
    inputs.put_choice(payload, "method", "hb_method")
    inputs.put_number(payload, "expected_status_code", "hb_expected_status_code")
    inputs.put_number(payload, "timeout", "hb_timeout")
    headers = inputs.mapping("hb_headers")
    if headers:
        payload["headers"] = headers
    return payload


def _container(inputs: Inputs) -> dict:
    payload: dict[str, Any] = {}
    if inputs.value("ct_source") == "dockerfile":
        payload["dockerfile"] = inputs.text("ct_dockerfile")
        files = inputs.mapping("ct_files", multiline=True)
        if files:
            payload["files"] = files
    else:
        payload["image"] = inputs.value("ct_image").strip()
    for key in ("command", "args"):
        items = inputs.items(f"ct_{key}")
        if items:
            payload[key] = items
    env = inputs.mapping("ct_env")
    if env:
        payload["env"] = env
    inputs.put_text(payload, "working_dir", "ct_working_dir")
    inputs.put_number(payload, "timeout", "ct_timeout")
    inputs.put_number(payload, "memory_mb", "ct_memory_mb")
    inputs.put_number(payload, "cpus", "ct_cpus", decimal=True)
    inputs.put_choice(payload, "network", "ct_network")
    volumes = []
    for source, target, mode in inputs.rows("ct_volumes"):
        if source.strip() or target.strip():
            volume: dict[str, Any] = {"source": source.strip(), "target": target.strip()}
            if mode == "ro":
                volume["read_only"] = True
            volumes.append(volume)
    if volumes:
        payload["volumes"] = volumes
    inputs.put_text(payload, "user", "ct_user")
    if inputs.value("ct_read_only"):
        payload["read_only"] = True
    return payload


def _webhook(inputs: Inputs) -> dict:
    payload: dict[str, Any] = {"url": inputs.value("wh_url").strip()}
    inputs.put_choice(payload, "method", "wh_method")
    headers = inputs.mapping("wh_headers")
    if headers:
        payload["headers"] = headers
    body = inputs.json_or_text("wh_body_format", "wh_body")
    if body is not None:
        payload["body"] = body
    inputs.put_number(payload, "timeout", "wh_timeout")
    codes = inputs.value("wh_expected_status_codes").replace(",", " ").split()
    if codes:
        try:
            payload["expected_status_codes"] = [int(code) for code in codes]
        except ValueError:
            inputs.fail("wh_expected_status_codes", "Whole numbers separated by commas, e.g. 200, 204.")
    inputs.put_number(payload, "retries", "wh_retries")
    secret = inputs.value("wh_secret")
    if secret:
        payload["secret"] = secret
    return payload


def _websocket(inputs: Inputs) -> dict:
    payload: dict[str, Any] = {"client_name": inputs.value("ws_client_name").strip()}
    message = inputs.json_or_text("ws_message_format", "ws_message")
    if message is not None:
        payload["message"] = message
    inputs.put_number(payload, "ack_timeout", "ws_ack_timeout")
    return payload


def _script(inputs: Inputs) -> dict:
    payload = {"script": inputs.text("script")}
    inputs.put_text(payload, "image", "script_image")
    return payload


_BUILDERS: dict[str, Callable[[Inputs], dict]] = {
    WorkflowKind.HEARTBEAT: _heartbeat,
    WorkflowKind.CONTAINER: _container,
    WorkflowKind.WEBHOOK: _webhook,
    WorkflowKind.WEBSOCKET: _websocket,
    SCRIPT: _script,
}


def payload_from_inputs(kind: str, inputs: Inputs) -> dict:
    """The payload the kind's inputs describe (problems recorded on `inputs`)."""
    builder = _BUILDERS.get(kind)
    return builder(inputs) if builder else {}


def _json_or_text_inputs(value: Any, format_name: str, name: str) -> dict[str, str]:
    if value is None:
        return {format_name: "none", name: ""}
    if isinstance(value, str):
        return {format_name: "text", name: value}
    return {format_name: "json", name: json.dumps(value, indent=2, ensure_ascii=False)}


def _number_text(value: Any) -> str:
    return "" if value is None else str(value)


def inputs_from_payload(kind: str, payload: dict) -> tuple[dict[str, Any], dict[str, Rows]]:
    """A stored payload as the kind's inputs: the single values and the rows of each editor."""
    values: dict[str, Any] = {}
    rows: dict[str, Rows] = {}

    def pairs(mapping: dict | None) -> Rows:
        return [(str(key), str(value)) for key, value in (mapping or {}).items()]

    if kind == WorkflowKind.HEARTBEAT:
        mode = "ping" if "ping" in payload else "endpoint" if "endpoint" in payload else "tick"
        values.update(
            hb_mode=mode,
            hb_endpoint=payload.get("endpoint", ""),
            hb_method=payload.get("method", "GET"),
            hb_expected_status_code=_number_text(payload.get("expected_status_code")),
            hb_timeout=_number_text(payload.get("timeout")),
            hb_ping_grace=_number_text((payload.get("ping") or {}).get("grace")),
        )
        rows["hb_headers"] = pairs(payload.get("headers"))
    elif kind == WorkflowKind.CONTAINER:
        values.update(
            ct_source="dockerfile" if "dockerfile" in payload else "image",
            ct_image=payload.get("image", ""),
            ct_dockerfile=payload.get("dockerfile", ""),
            ct_working_dir=payload.get("working_dir", ""),
            ct_timeout=_number_text(payload.get("timeout")),
            ct_memory_mb=_number_text(payload.get("memory_mb")),
            ct_cpus=_number_text(payload.get("cpus")),
            ct_network=payload.get("network", "bridge"),
            ct_user=payload.get("user", ""),
            ct_read_only=bool(payload.get("read_only")),
        )
        rows["ct_command"] = [(str(item),) for item in payload.get("command") or []]
        rows["ct_args"] = [(str(item),) for item in payload.get("args") or []]
        rows["ct_env"] = pairs(payload.get("env"))
        rows["ct_files"] = pairs(payload.get("files"))
        rows["ct_volumes"] = [
            (str(volume.get("source", "")), str(volume.get("target", "")), "ro" if volume.get("read_only") else "rw")
            for volume in payload.get("volumes") or []
            if isinstance(volume, dict)
        ]
    elif kind == WorkflowKind.WEBHOOK:
        values.update(
            wh_url=payload.get("url", ""),
            wh_method=payload.get("method", "POST"),
            wh_timeout=_number_text(payload.get("timeout")),
            wh_expected_status_codes=", ".join(str(code) for code in payload.get("expected_status_codes") or []),
            wh_retries=_number_text(payload.get("retries")),
            wh_secret=payload.get("secret", ""),
            **_json_or_text_inputs(payload.get("body"), "wh_body_format", "wh_body"),
        )
        rows["wh_headers"] = pairs(payload.get("headers"))
    elif kind == WorkflowKind.WEBSOCKET:
        values.update(
            ws_client_name=payload.get("client_name", ""),
            ws_ack_timeout=_number_text(payload.get("ack_timeout")),
            **_json_or_text_inputs(payload.get("message"), "ws_message_format", "ws_message"),
        )
    return values, rows


def same_payload(kind: str, first: Any, second: Any) -> bool:
    """Whether two payloads mean the same: equal once the kind's defaults are filled in (an input
    left empty and a default written out are one payload, and saving it must not start a build)."""
    if first == second:
        return True
    if not isinstance(first, dict) or not isinstance(second, dict) or kind not in _BUILDERS or kind == SCRIPT:
        return False
    try:
        # A payload may repeat its kind; that says nothing more.
        return payload_with_defaults(kind, {**first, "kind": kind}) == payload_with_defaults(
            kind, {**second, "kind": kind}
        )
    except ValidationError:
        return False


def fits_the_inputs(kind: str, payload: dict) -> bool:
    """Whether the guided inputs can show this stored payload without losing anything (otherwise the
    edit form opens on the JSON view)."""
    values, rows = inputs_from_payload(kind, payload)
    inputs = Inputs(
        value=lambda name: "on" if values.get(name) is True else str(values.get(name) or ""),
        values=lambda name: [],
        rows=lambda name: rows.get(name, []),
    )
    rebuilt = payload_from_inputs(kind, inputs)
    return not inputs.errors and same_payload(kind, rebuilt, payload)
