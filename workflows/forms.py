"""Dashboard forms of workflows: guided inputs per kind and per timing, or a raw JSON payload.

They only turn HTML inputs into the request-shaped dict the API accepts, and put the errors of
`workflows.validation` back on the inputs: every rule about the values lives in the services, so
these forms check nothing but what HTML itself cannot express (JSON syntax, numbers).

Input names (tests and the browser tests fill these; each input's id is `id_<name>`):
- name, description, kind (create only: a WorkflowKind or `script`), tags, metadata (JSON),
  max_consecutive_job_failures_allowed, concurrency_policy, timezone (IANA name), start_at and
  end_at (create only; local times in `timezone`).
- editor: `fields` reads the kind's inputs below, `json` the `payload` textarea. A client that
  sends no `editor` is read as `json` when it sends a payload, as older clients only did.
  script, script_image (kind `script`); hb_* (HEARTBEAT), ct_* (CONTAINER), wh_* (WEBHOOK),
  ws_* (WEBSOCKET), and the row editors of `forms_payload.ROW_EDITORS`, whose inputs repeat per
  row (`ct_env_name` and `ct_env_value`, `ct_command`, ...).
- timing: interval | cron | rrule | recurrence | at | after, read from its own inputs: interval,
  cron, rrule, rec_frequency, rec_interval, rec_by_day and rec_by_month (checkboxes),
  rec_by_month_day, rec_by_hour and rec_by_minute (numbers separated by commas), at (a local time
  in `timezone`), after (a workflow id) and after_on.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils import timezone as dj_timezone

from accounts.models import User
from chronoverse.errors import ServiceError
from workflows import selectors
from workflows.forms_payload import (
    BODY_FORMATS,
    CONTAINER_SOURCES,
    HEARTBEAT_MODES,
    ROW_EDITORS,
    SCRIPT,
    Inputs,
    RowEditor,
    Rows,
    fits_the_inputs,
    inputs_from_payload,
    payload_from_inputs,
    same_payload,
)
from workflows.forms_timing import (
    FREQUENCY_CHOICES,
    MAIN_INPUT,
    MONTH_CHOICES,
    OUTCOME_CHOICES,
    SCHEDULE_INPUT,
    TIMING_CHOICES,
    WEEKDAY_CHOICES,
    local_input,
    local_time,
    timing_from_inputs,
    timing_inputs,
    zone_or_utc,
)
from workflows.models import BuildStatus, ConcurrencyPolicy, Workflow, WorkflowKind
from workflows.schedule import timezone_names
from workflows.validation import clean_schedule

# The service names a nested input by its path (`payload.image`, `schedule.cron`); these are the
# form inputs that hold the top-level names that are not the payload's or the schedule's.
_COMMON_INPUTS = (
    "name",
    "description",
    "kind",
    "interval",
    "timezone",
    "max_consecutive_job_failures_allowed",
    "concurrency_policy",
    "tags",
    "metadata",
    "start_at",
    "end_at",
)
_KIND_PREFIX: dict[str, str] = {
    WorkflowKind.HEARTBEAT: "hb",
    WorkflowKind.CONTAINER: "ct",
    WorkflowKind.WEBHOOK: "wh",
    WorkflowKind.WEBSOCKET: "ws",
}
# Where an error about a kind's payload as a whole goes, with the guided inputs.
_PAYLOAD_MAIN_INPUT: dict[str, str] = {
    WorkflowKind.HEARTBEAT: "hb_mode",
    WorkflowKind.CONTAINER: "ct_image",
    WorkflowKind.WEBHOOK: "wh_url",
    WorkflowKind.WEBSOCKET: "ws_client_name",
    SCRIPT: "script",
}
_SCRIPT_INPUTS = {"script": "script", "image": "script_image"}
KIND_CHOICES = [*WorkflowKind.choices, (SCRIPT, "Script")]


def _text(label: str = "", help_text: str = "", **attrs: Any) -> forms.CharField:
    return forms.CharField(
        required=False, label=label or None, help_text=help_text, widget=forms.TextInput(attrs=attrs)
    )


def _number(label: str, help_text: str = "", **attrs: Any) -> forms.CharField:
    # Typed as text so that a bad number is reported with the rest, not by a browser bubble.
    return _text(label, help_text, inputmode="numeric", **attrs)


def _area(label: str = "", help_text: str = "", rows: int = 4, code: bool = True) -> forms.CharField:
    attrs: dict[str, Any] = {"rows": rows, "spellcheck": "false"}
    if code:
        attrs["class"] = "code"
    return forms.CharField(
        required=False, strip=False, label=label or None, help_text=help_text, widget=forms.Textarea(attrs=attrs)
    )


def _select(label: str, choices: list, help_text: str = "") -> forms.CharField:
    return forms.CharField(required=False, label=label, help_text=help_text, widget=forms.Select(choices=choices))


def _radios(label: str, choices: list, initial: str) -> forms.CharField:
    return forms.CharField(required=False, label=label, initial=initial, widget=forms.RadioSelect(choices=choices))


def _local_time(label: str, help_text: str) -> forms.CharField:
    return _text(label, help_text, type="datetime-local")


class RowsWidget(forms.Widget):
    """A row editor's value: one tuple per row, from the inputs that repeat per row. Rendered by the
    form's template (`workflows/_rows.html`), not by the widget."""

    def __init__(self, editor: RowEditor) -> None:
        super().__init__()
        self.editor = editor

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Rows:
        columns = [
            data.getlist(self.editor.input_name(column)) if hasattr(data, "getlist") else []
            for column in self.editor.columns
        ]
        length = max((len(values) for values in columns), default=0)
        return [tuple(values[index] if index < len(values) else "" for values in columns) for index in range(length)]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False


def _cells(editor: RowEditor, row: tuple[str, ...], index: str, number: str) -> list[dict]:
    return [
        {
            "column": column,
            "name": editor.input_name(column),
            "id": f"id_{editor.input_name(column)}_{index}",
            "label": f"{column.label}, {editor.item} {number}",
            "value": value,
        }
        for column, value in zip(editor.columns, row, strict=False)
    ]


class RowsField(forms.Field):
    def __init__(self, editor: RowEditor) -> None:
        super().__init__(required=False, label=editor.label, help_text=editor.help_text, widget=RowsWidget(editor))
        self.editor = editor


class WorkflowForm(forms.Form):
    """The create form; `WorkflowEditForm` drops what cannot change after creation."""

    name = forms.CharField(widget=forms.TextInput(attrs={"autofocus": True}))
    description = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional free text, up to 2,000 characters.",
    )
    # "Script" is the API's `script` alias: a CONTAINER running the script with `sh -c`.
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    editor = _radios("Edit the payload as", [("fields", "Fields"), ("json", "JSON")], "fields")
    payload = forms.CharField(
        initial="{}",
        strip=False,
        required=False,
        label="Payload (JSON)",
        widget=forms.Textarea(attrs={"rows": 10, "class": "code", "spellcheck": "false"}),
    )
    script = _area("Script", "Shell commands, run with sh -c; stdout and stderr go to the job's log.", rows=8)
    script_image = _text(
        "Script image",
        "Optional: an image with a shell; the platform's default script image otherwise.",
        spellcheck="false",
    )
    # HEARTBEAT
    hb_mode = _radios("What each run does", HEARTBEAT_MODES, "tick")
    hb_endpoint = _text(
        "Endpoint URL",
        "Called on each run; the run fails on another status.",
        type="url",
        placeholder="https://example.com/health",
    )
    hb_method = _select("Method", [("GET", "GET"), ("HEAD", "HEAD")])
    hb_expected_status_code = _number("Expected status", "Default 200.", placeholder="200")
    hb_timeout = _number("Timeout (seconds)", "1 to 300; default 10.", placeholder="10")
    hb_headers = RowsField(ROW_EDITORS["hb_headers"])
    hb_ping_grace = _number(
        "Grace (seconds)", "How early or late a ping may arrive around each run; default 300.", placeholder="300"
    )
    # CONTAINER
    ct_source = _radios("Run", CONTAINER_SOURCES, "image")
    ct_image = _text(
        "Image", "e.g. chronoverse/busybox:latest", spellcheck="false", placeholder="chronoverse/busybox:latest"
    )
    ct_dockerfile = _area(
        "Dockerfile", "Built into the workflow's own image when saved; the build output shows on its page.", rows=8
    )
    ct_files = RowsField(ROW_EDITORS["ct_files"])
    ct_command = RowsField(ROW_EDITORS["ct_command"])
    ct_args = RowsField(ROW_EDITORS["ct_args"])
    ct_env = RowsField(ROW_EDITORS["ct_env"])
    ct_volumes = RowsField(ROW_EDITORS["ct_volumes"])
    ct_working_dir = _text("Working directory", "An absolute path; the image's otherwise.", spellcheck="false")
    ct_timeout = _number("Timeout (seconds)", "1 to 86,400; default 3,600.", placeholder="3600")
    ct_memory_mb = _number("Memory (MB)", "The platform's default otherwise.")
    ct_cpus = _text("CPUs", "e.g. 0.5; the platform's default otherwise.", inputmode="decimal")
    ct_network = _select("Network", [("bridge", "bridge (default)"), ("none", "none")])
    ct_user = _text("User", "uid[:gid] or a user name of the image.", spellcheck="false")
    ct_read_only = forms.BooleanField(
        required=False, label="Read-only root filesystem", help_text="/tmp stays writable."
    )
    # WEBHOOK
    wh_url = _text("URL", "", type="url", placeholder="https://example.com/hook")
    wh_method = _select("Method", [(method, method) for method in ("POST", "GET", "PUT", "PATCH", "DELETE")])
    wh_headers = RowsField(ROW_EDITORS["wh_headers"])
    wh_body_format = _select("Body", BODY_FORMATS)
    wh_body = _area("Body content", "A JSON object or text, as chosen above.", rows=5)
    wh_timeout = _number("Timeout (seconds)", "1 to 300; default 10.", placeholder="10")
    wh_expected_status_codes = _text(
        "Expected statuses", "Separated by commas; any 2xx otherwise.", placeholder="200, 204"
    )
    wh_retries = _number("Retries", "0 to 10; default 3.", placeholder="3")
    wh_secret = _text(
        "Signing secret",
        "Optional: each request then carries X-Chronoverse-Signature (HMAC-SHA256 of the body).",
        autocomplete="off",
        spellcheck="false",
    )
    # WEBSOCKET
    ws_client_name = _text(
        "Client name",
        "Your clients that connect to /ws/clients/ with this name receive each event.",
        spellcheck="false",
        placeholder="backup-agent",
    )
    ws_message_format = _select("Message", BODY_FORMATS)
    ws_message = _area("Message content", "Sent with each event: a JSON object or text.", rows=4)
    ws_ack_timeout = _number("Acknowledgement timeout (seconds)", "1 to 3,600; default 30.", placeholder="30")
    # Timing
    timing = forms.ChoiceField(choices=TIMING_CHOICES, initial="interval", label="Runs")
    interval = _number("Every (minutes)", "1 to 10,080 (a week).", placeholder="5")
    cron = _text(
        "Cron expression",
        "minute hour day-of-month month day-of-week, e.g. */15 * * * * or 0 9 * * 1-5.",
        spellcheck="false",
        placeholder="0 9 * * 1-5",
    )
    rrule = _text(
        "RRULE",
        "e.g. FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0",
        spellcheck="false",
        placeholder="FREQ=DAILY;BYHOUR=9;BYMINUTE=0",
    )
    rec_frequency = _select("Repeats", FREQUENCY_CHOICES)
    rec_interval = _number("Every", "Every n-th period; default 1.", placeholder="1")
    rec_by_day = forms.MultipleChoiceField(
        required=False, label="On weekdays", choices=WEEKDAY_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    rec_by_month = forms.MultipleChoiceField(
        required=False, label="In months", choices=MONTH_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    rec_by_month_day = _text("On days of the month", "e.g. 1, 15, -1 (the last day).", placeholder="1, 15")
    rec_by_hour = _text("At hours", "0 to 23, e.g. 9, 17.", placeholder="9")
    rec_by_minute = _text("At minutes", "0 to 59, e.g. 0, 30.", placeholder="0")
    at = _local_time("Date and time", "In the workflow's timezone.")
    after = _select("After workflow", [])
    after_on = _select("Runs each time it", OUTCOME_CHOICES)
    timezone = _text(
        "Timezone",
        "IANA name, e.g. Europe/Paris: cron lines, rules and the times above are read in it.",
        list="timezone-options",
        spellcheck="false",
        autocomplete="off",
    )
    max_consecutive_job_failures_allowed = forms.IntegerField(
        initial=3,
        required=False,
        label="Max consecutive failures",
        help_text="The workflow is terminated after this many failed runs in a row (1 to 100).",
    )
    concurrency_policy = forms.ChoiceField(
        choices=ConcurrencyPolicy.choices,
        initial=ConcurrencyPolicy.FORBID,
        help_text="FORBID skips a run while one is active, REPLACE cancels it, ALLOW runs both.",
    )
    tags = forms.CharField(required=False, help_text="Comma separated, e.g. ops, nightly.")
    metadata = forms.CharField(
        initial="{}",
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "code", "spellcheck": "false"}),
        help_text='Optional: a JSON object kept with the workflow, e.g. {"team": "data"} (at most 16 KiB).',
    )
    start_at = _local_time("Start", "Optional: no run before this time (in the workflow's timezone).")
    end_at = _local_time("End", "Optional: the workflow ends itself after this time.")

    def __init__(self, *args: Any, user: User, workflow: Workflow | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.workflow = workflow
        if workflow is None:
            # The user's zone when the site knows it (the active timezone), else UTC.
            self.fields["timezone"].initial = dj_timezone.get_current_timezone_name()
        upstreams = selectors.workflow_upstream_choices(user=user, exclude=workflow)
        self.fields["after"].widget.choices = [
            ("", "Choose one of your workflows"),
            *[
                (str(w.id), f"{w.name} ({w.kind.lower()}{', terminated' if w.terminated_at else ''})")
                for w in upstreams
            ],
        ]
        self._payload: Any = None
        self._timing: dict = {}
        self.timing_problems: dict[str, list[str]] = {}

    # What the inputs hold

    @property
    def chosen_kind(self) -> str:
        if self.workflow is not None:
            return self.workflow.kind
        return str(self["kind"].value() or WorkflowKind.HEARTBEAT)

    @property
    def chosen_editor(self) -> str:
        if self.is_bound and "editor" not in self.data:
            return "json" if str(self.data.get("payload", "")).strip() else "fields"
        return "json" if self["editor"].value() == "json" else "fields"

    @property
    def chosen_timing(self) -> str:
        return str(self["timing"].value() or "interval")

    @property
    def row_editors(self) -> dict[str, dict]:
        """Each row editor as the template shows it: its rows of cells (at least one row, empty, to
        type into), and a blank row whose `__index__` and `__number__` the script fills in."""
        editors = {}
        for name, editor in ROW_EDITORS.items():
            bound = self[name]
            blank = tuple("rw" if column.key == "mode" else "" for column in editor.columns)
            rows = list(bound.value() or []) or [blank]
            editors[name] = {
                "editor": editor,
                "field": bound,
                "rows": [_cells(editor, row, str(index), str(index + 1)) for index, row in enumerate(rows)],
                "template": _cells(editor, blank, "__index__", "__number__"),
            }
        return editors

    @property
    def timezone_options(self) -> list[str]:
        return sorted(timezone_names())

    def _inputs(self) -> Inputs:
        data = self.data

        def values(name: str) -> list[str]:
            return [str(value) for value in data.getlist(name)] if hasattr(data, "getlist") else []

        return Inputs(
            value=lambda name: str(data.get(name) or ""),
            values=values,
            rows=lambda name: self.fields[name].widget.value_from_datadict(data, None, name),
        )

    # Cleaning

    def clean_description(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; the API's text keeps the user's LF.
        return self.cleaned_data["description"].replace("\r\n", "\n")

    def clean_metadata(self) -> Any:
        if not self.cleaned_data["metadata"].strip():
            return {}
        try:
            return json.loads(self.cleaned_data["metadata"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        inputs = self._inputs()
        zone = zone_or_utc(str(self.data.get("timezone") or "UTC").strip())
        if self.chosen_editor == "json":
            self._payload = self._json_payload()
        else:
            self._payload = payload_from_inputs(self.chosen_kind, inputs)
        self._timing = timing_from_inputs(inputs, self.chosen_timing, zone)
        for name in ("start_at", "end_at"):
            if name in self.fields:
                cleaned[name] = local_time(inputs, name, zone)
        for name, messages in inputs.errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        return cleaned

    def _json_payload(self) -> Any:
        text = str(self.data.get("payload") or "")
        if not text.strip():
            self.add_error("payload", "This field is required.")
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            self.add_error("payload", f"Not valid JSON: {exc}.")
            return None

    def timing_data(self) -> dict:
        """Only the timing inputs as the API's fields, for the schedule preview (errors on `inputs`)."""
        inputs = self._inputs()
        zone_name = str(self.data.get("timezone") or "UTC").strip()
        zone = zone_or_utc(zone_name)
        self._timing = timing_from_inputs(inputs, self.chosen_timing, zone)
        body = {**self._timing, "timezone": zone_name or "UTC"}
        if self.workflow is None:
            for name in ("start_at", "end_at"):
                instant = local_time(inputs, name, zone)
                if instant is not None:
                    body[name] = instant.isoformat()
        self.timing_problems = inputs.errors
        return body

    def to_data(self) -> dict:
        """The cleaned inputs as the API's request body (optional inputs left empty are omitted; an
        input the form already refused is left out, so that the service has nothing to add on it)."""
        data = self.cleaned_data
        body: dict[str, Any] = {**self._timing}
        for name in ("name", "description", "concurrency_policy", "tags", "metadata"):
            if name in data:
                body[name] = data[name]
        if self.workflow is None and "kind" in data:
            body["kind"] = data["kind"]
        if self._payload is not None:
            body["payload"] = self._payload
        body["timezone"] = str(self.data.get("timezone") or "").strip() or "UTC"
        if data.get("max_consecutive_job_failures_allowed") is not None:
            body["max_consecutive_job_failures_allowed"] = data["max_consecutive_job_failures_allowed"]
        for name in ("start_at", "end_at"):
            if data.get(name) is not None:
                body[name] = data[name].isoformat()
        return body

    # Errors

    def input_for(self, name: str) -> tuple[str | None, str]:
        """The input a service error on `name` belongs to (None: above the form), and what to put
        before its message to say which part of the input it is about."""
        top, _, rest = name.partition(".")
        if top == "payload":
            return self._payload_input(rest)
        if top == "schedule":
            key, _, item = rest.partition(".")
            if not key:
                return MAIN_INPUT.get(self.chosen_timing, "timing"), ""
            field = SCHEDULE_INPUT.get(key, "timing")
            if item.isdigit():
                values = (self._timing.get("schedule") or {}).get(key)
                index = int(item)
                return field, f"{values[index]}: " if isinstance(values, list) and index < len(values) else ""
            return field, "" if key in SCHEDULE_INPUT else f"{rest}: "
        if top == "interval" and self.chosen_timing != "interval":
            return MAIN_INPUT.get(self.chosen_timing, "timing"), ""
        if top in _COMMON_INPUTS and top in self.fields:
            return top, f"{rest}: " if rest else ""
        return None, "" if name == "non_field_errors" else f"{name}: "

    def _payload_input(self, rest: str) -> tuple[str | None, str]:
        kind = self.chosen_kind
        if self.chosen_editor == "json":
            return "payload", f"{rest}: " if rest else ""
        if not rest:
            return _PAYLOAD_MAIN_INPUT.get(kind), ""
        key, _, sub = rest.partition(".")
        if kind == SCRIPT:
            return _SCRIPT_INPUTS.get(key, "script"), ""
        field = f"{_KIND_PREFIX.get(kind, '')}_{key}"
        if key == "ping":
            return "hb_ping_grace", ""
        if field not in self.fields:
            return None, f"{rest}: "
        if not sub:
            return field, ""
        index, _, part = sub.partition(".")
        if index.isdigit():
            editor = ROW_EDITORS.get(field)
            where = f"Row {int(index) + 1}" if editor and len(editor.columns) > 1 else f"Item {int(index) + 1}"
            return field, f"{where}{', ' + part if part else ''}: "
        return field, f"{sub}: "

    def add_service_error(self, error: ServiceError) -> None:
        """Show the service's complaint next to the input it is about."""
        if not error.fields:
            self.add_error(None, error.message)
            return
        self.add_problems(error.fields)

    def problem_messages(self, problems: dict[str, list[str]]) -> dict[str, list[str]]:
        """The service's problems by input name (`__all__`: about no one input)."""
        by_input: dict[str, list[str]] = {}
        for name, messages in problems.items():
            field, prefix = self.input_for(name)
            shown = by_input.setdefault(field or "__all__", [])
            shown.extend(prefix + message for message in messages if prefix + message not in shown)
        return by_input

    def add_problems(self, problems: dict[str, list[str]]) -> None:
        """Put each problem next to its input, except on an input the form already refused (its
        value never reached the service) and a message already shown there."""
        refused = set(self.errors)
        for field, messages in self.problem_messages(problems).items():
            if field in refused:
                continue
            shown = [str(message) for message in self.errors.get(field, [])]
            for message in messages:
                if message not in shown:
                    self.add_error(None if field == "__all__" else field, message)


class WorkflowEditForm(WorkflowForm):
    """Prefilled from a workflow; `changes()` is the partial update to send."""

    def __init__(self, *args: Any, workflow: Workflow, **kwargs: Any) -> None:
        kind_values, kind_rows = inputs_from_payload(workflow.kind, workflow.payload)
        self._initial_rows = kind_rows
        kwargs.setdefault(
            "initial",
            {
                "name": workflow.name,
                "description": workflow.description,
                "editor": "fields" if fits_the_inputs(workflow.kind, workflow.payload) else "json",
                "payload": json.dumps(workflow.payload, indent=2, ensure_ascii=False),
                **kind_values,
                **kind_rows,
                **timing_inputs(workflow),
                "timezone": workflow.timezone,
                "max_consecutive_job_failures_allowed": workflow.max_consecutive_job_failures_allowed,
                "concurrency_policy": workflow.concurrency_policy,
                "tags": ", ".join(workflow.tags),
                "metadata": json.dumps(workflow.metadata, indent=2, ensure_ascii=False),
            },
        )
        super().__init__(*args, workflow=workflow, **kwargs)
        for name in ("kind", "script", "script_image", "start_at", "end_at"):
            del self.fields[name]

    @property
    def fixed_times(self) -> dict[str, str]:
        """start_at and end_at, which cannot change, in the workflow's timezone."""
        assert self.workflow is not None
        return {
            name: local_input(getattr(self.workflow, name), self.workflow.timezone).replace("T", " ")
            for name in ("start_at", "end_at")
            if getattr(self.workflow, name)
        }

    def changes(self) -> dict:
        """Only what differs from the workflow, so an untouched input is never re-validated or audited."""
        assert self.workflow is not None
        workflow = self.workflow
        candidate = {name: value for name, value in self.to_data().items() if name not in ("start_at", "end_at")}
        changes = {name: value for name, value in candidate.items() if getattr(workflow, name) != value}
        if "payload" in changes and same_payload(workflow.kind, candidate["payload"], workflow.payload):
            del changes["payload"]
        if "schedule" in changes and workflow.schedule is not None and "interval" not in changes:
            try:
                same = clean_schedule(candidate["schedule"], candidate["timezone"], now=dj_timezone.now())
            except ServiceError:
                same = None
            if same == workflow.schedule:
                del changes["schedule"]
        return changes


class WorkflowFilterForm(forms.Form):
    """The list's GET filters; only rendered here, `selectors.workflow_list` validates them."""

    query = forms.CharField(required=False, label="Name contains")
    kind = forms.ChoiceField(required=False, choices=[("", "Any"), *WorkflowKind.choices])
    build_status = forms.ChoiceField(required=False, label="Build", choices=[("", "Any"), *BuildStatus.choices])
    terminated = forms.ChoiceField(required=False, choices=[("", "Any"), ("false", "Active"), ("true", "Terminated")])
    paused = forms.ChoiceField(required=False, choices=[("", "Any"), ("true", "Paused"), ("false", "Not paused")])
    tag = forms.CharField(required=False)
