"""Dashboard forms of workflows.

They only turn HTML inputs into the request-shaped dict the API accepts, and put the errors of
`workflows.validation` back on the inputs: every rule about the values lives in the services, so
these forms check nothing but what HTML itself cannot express (JSON syntax, whole numbers).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from chronoverse.errors import ServiceError
from workflows.models import BuildStatus, ConcurrencyPolicy, Workflow, WorkflowKind
from workflows.schedule import is_recurrence

TIMING_CHOICES = [
    ("interval", "Every N minutes"),
    ("cron", "Cron expression"),
    ("rrule", "RRULE (RFC 5545)"),
    ("recurrence", "Recurrence object (JSON)"),
    ("at", "Once, at a time"),
]

# The service names a nested input by its path (`payload.image`, `schedule.cron`); these are the
# form inputs that hold each top-level name. Anything else is shown above the form.
_FIELD_FOR_ERROR = {
    "name": "name",
    "description": "description",
    "kind": "kind",
    "payload": "payload",
    "interval": "interval",
    "schedule": "schedule_value",
    "timezone": "timezone",
    "max_consecutive_job_failures_allowed": "max_consecutive_job_failures_allowed",
    "concurrency_policy": "concurrency_policy",
    "tags": "tags",
    "metadata": "metadata",
    "start_at": "start_at",
    "end_at": "end_at",
}

# A script's payload is made from its own inputs.
_SCRIPT_INPUTS = {"payload.script": "script", "payload.image": "script_image"}


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
    kind = forms.ChoiceField(choices=[*WorkflowKind.choices, ("script", "Script")])
    payload = forms.CharField(
        initial="{}",
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code", "spellcheck": "false"}),
        help_text='A JSON object for the kind, e.g. {"endpoint": "https://example.com/health"} for a HEARTBEAT, '
        '{"client_name": "backup-agent", "message": {"run": "backup"}} for a WEBSOCKET.',
    )
    script = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code", "spellcheck": "false"}),
        help_text="Shell commands, run with sh -c; stdout and stderr go to the job's log.",
    )
    script_image = forms.CharField(
        required=False,
        label="Script image",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
        help_text="Optional: an image with a shell; the platform's default script image otherwise.",
    )
    timing = forms.ChoiceField(choices=TIMING_CHOICES, initial="interval", label="Runs")
    interval = forms.IntegerField(required=False, label="Interval (minutes)")
    schedule_value = forms.CharField(
        required=False,
        label="Schedule",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
        help_text="Cron (*/5 * * * *), RRULE (FREQ=DAILY;BYHOUR=9), a recurrence object "
        '({"frequency": "weekly", "by_day": ["MO", "FR"], "by_hour": [9], "by_minute": [0]}) '
        "or an RFC 3339 time (2030-01-01T09:00:00Z).",
    )
    timezone = forms.CharField(initial="UTC", required=False, help_text="IANA name, e.g. Europe/Paris.")
    max_consecutive_job_failures_allowed = forms.IntegerField(
        initial=3, required=False, label="Max consecutive failures"
    )
    concurrency_policy = forms.ChoiceField(choices=ConcurrencyPolicy.choices, initial=ConcurrencyPolicy.FORBID)
    tags = forms.CharField(required=False, help_text="Comma separated.")
    metadata = forms.CharField(
        initial="{}",
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "code", "spellcheck": "false"}),
        help_text='Optional: a JSON object kept with the workflow, e.g. {"team": "data"} (at most 16 KiB).',
    )
    start_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Optional, UTC."
    )
    end_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Optional, UTC."
    )

    def clean_payload(self) -> Any:
        if self.data.get("kind") == "script":
            return None  # the script inputs make the payload
        if not self.cleaned_data["payload"].strip():
            raise forms.ValidationError("This field is required.")
        try:
            return json.loads(self.cleaned_data["payload"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None

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
        if cleaned.get("timing") == "recurrence" and cleaned.get("schedule_value", "").strip():
            # The object goes to the service as JSON; what it holds, the service checks.
            try:
                cleaned["schedule_value"] = json.loads(cleaned["schedule_value"])
            except ValueError as exc:
                self.add_error("schedule_value", f"Not valid JSON: {exc}.")
        return cleaned

    def _timing(self) -> dict:
        data = self.cleaned_data
        if data["timing"] == "interval":
            return {"interval": data["interval"]}
        # An empty value is passed on as such, so the service reports it with its own message.
        if data["timing"] == "recurrence":
            return {"schedule": data["schedule_value"]}
        return {"schedule": {data["timing"]: data["schedule_value"]}}

    def to_data(self) -> dict:
        """The cleaned inputs as the API's request body (optional inputs left empty are omitted)."""
        data = self.cleaned_data
        payload = data["payload"]
        if data["kind"] == "script":
            payload = {"script": data["script"]}
            if data["script_image"].strip():
                payload["image"] = data["script_image"].strip()
        body: dict[str, Any] = {
            "name": data["name"],
            "description": data["description"],
            "kind": data["kind"],
            "payload": payload,
            **self._timing(),
            "concurrency_policy": data["concurrency_policy"],
            "tags": data["tags"],
            "metadata": data["metadata"],
        }
        if data["timezone"].strip():
            body["timezone"] = data["timezone"].strip()
        if data["max_consecutive_job_failures_allowed"] is not None:
            body["max_consecutive_job_failures_allowed"] = data["max_consecutive_job_failures_allowed"]
        for name in ("start_at", "end_at"):
            if data[name] is not None:
                body[name] = data[name].isoformat()
        return body

    def add_service_error(self, error: ServiceError) -> None:
        """Show the service's complaint next to the input it is about."""
        if not error.fields:
            self.add_error(None, error.message)
            return
        script = self.cleaned_data.get("kind") == "script"
        for name, messages in error.fields.items():
            top, _, rest = name.partition(".")
            field = _FIELD_FOR_ERROR.get(top)
            if script and name in _SCRIPT_INPUTS:
                field, top, rest = _SCRIPT_INPUTS[name], name, ""
            if field not in self.fields:
                field = None
            for message in messages:
                # Inside the payload, the tags or a recurrence object the key matters (`image: ...`);
                # the schedule input otherwise holds the one value, and above the form the full name
                # says what it is about.
                if field is None and name != "non_field_errors":
                    message = f"{name}: {message}"
                elif rest and not (top == "schedule" and rest in ("cron", "rrule", "at")):
                    message = f"{rest}: {message}"
                self.add_error(field, message)


class WorkflowEditForm(WorkflowForm):
    """Prefilled from a workflow; `changes()` is the partial update to send."""

    def __init__(self, *args: Any, workflow: Workflow, **kwargs: Any) -> None:
        self.workflow = workflow
        schedule = workflow.schedule or {}
        if workflow.interval is not None:
            timing, schedule_value = "interval", ""
        elif is_recurrence(schedule):
            timing, schedule_value = "recurrence", json.dumps(schedule)
        else:
            timing = next(iter(schedule or {"cron": ""}))
            schedule_value = schedule.get(timing, "")
        kwargs.setdefault(
            "initial",
            {
                "name": workflow.name,
                "description": workflow.description,
                "payload": json.dumps(workflow.payload, indent=2),
                "timing": timing,
                "interval": workflow.interval,
                "schedule_value": schedule_value,
                "timezone": workflow.timezone,
                "max_consecutive_job_failures_allowed": workflow.max_consecutive_job_failures_allowed,
                "concurrency_policy": workflow.concurrency_policy,
                "tags": ", ".join(workflow.tags),
                "metadata": json.dumps(workflow.metadata, indent=2, ensure_ascii=False),
            },
        )
        super().__init__(*args, **kwargs)
        for name in ("kind", "script", "script_image", "start_at", "end_at"):
            del self.fields[name]

    def changes(self) -> dict:
        """Only what differs from the workflow, so an untouched input is never re-validated or audited."""
        data = self.cleaned_data
        workflow = self.workflow
        candidate: dict[str, Any] = {
            "name": data["name"],
            "description": data["description"],
            "payload": data["payload"],
            "timezone": data["timezone"].strip() or "UTC",
            "concurrency_policy": data["concurrency_policy"],
            "tags": data["tags"],
            "metadata": data["metadata"],
            **self._timing(),
        }
        if data["max_consecutive_job_failures_allowed"] is not None:
            candidate["max_consecutive_job_failures_allowed"] = data["max_consecutive_job_failures_allowed"]
        return {name: value for name, value in candidate.items() if getattr(workflow, name) != value}


class WorkflowFilterForm(forms.Form):
    """The list's GET filters; only rendered here, `selectors.workflow_list` validates them."""

    query = forms.CharField(required=False, label="Name contains")
    kind = forms.ChoiceField(required=False, choices=[("", "Any"), *WorkflowKind.choices])
    build_status = forms.ChoiceField(required=False, label="Build", choices=[("", "Any"), *BuildStatus.choices])
    terminated = forms.ChoiceField(required=False, choices=[("", "Any"), ("false", "Active"), ("true", "Terminated")])
    paused = forms.ChoiceField(required=False, choices=[("", "Any"), ("true", "Paused"), ("false", "Not paused")])
    tag = forms.CharField(required=False)
