from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from workflows.schedule import runs_on_clock

MAX_INTERVAL_MINUTES = 10080  # one week
MAX_DESCRIPTION_LENGTH = 2000
MAX_METADATA_BYTES = 16 * 1024  # of the compact UTF-8 JSON encoding


class WorkflowKind(models.TextChoices):
    HEARTBEAT = "HEARTBEAT"
    CONTAINER = "CONTAINER"
    WEBHOOK = "WEBHOOK"
    WEBSOCKET = "WEBSOCKET"


class BuildStatus(models.TextChoices):
    QUEUED = "QUEUED"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class ConcurrencyPolicy(models.TextChoices):
    FORBID = "FORBID"
    ALLOW = "ALLOW"
    REPLACE = "REPLACE"


class TerminationReason(models.TextChoices):
    MANUAL = "manual"
    CONSECUTIVE_FAILURES = "consecutive_failures"
    SCHEDULE_ENDED = "schedule_ended"
    DELETED = "deleted"


class DependencyOutcome(models.TextChoices):
    """Which ends of an upstream job start a dependent workflow's run."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    FINISHED = "FINISHED"  # either of the two; a CANCELED upstream job starts nothing


class Workflow(models.Model):
    """What runs (kind + payload) and when (interval or schedule), for one user."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=255)
    description = models.TextField(max_length=MAX_DESCRIPTION_LENGTH, blank=True, default="")
    kind = models.CharField(max_length=16, choices=WorkflowKind.choices)
    payload = models.JSONField(default=dict)
    interval = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes between runs.")
    schedule = models.JSONField(null=True, blank=True, help_text='{"cron"}, {"rrule"} or {"at"}.')
    timezone = models.CharField(max_length=64, default="UTC")
    max_consecutive_job_failures_allowed = models.PositiveSmallIntegerField(default=3)
    consecutive_job_failures_count = models.PositiveSmallIntegerField(default=0)
    concurrency_policy = models.CharField(
        max_length=8, choices=ConcurrencyPolicy.choices, default=ConcurrencyPolicy.FORBID
    )
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    # The user's own JSON object, kept as given and carried in the messages of the workflow's jobs.
    metadata = models.JSONField(default=dict, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    build_status = models.CharField(max_length=10, choices=BuildStatus.choices, default=BuildStatus.QUEUED)
    build_error = models.TextField(blank=True, default="")
    # The image jobs run: the payload's image, or the one the build tagged for this workflow.
    image_ref = models.CharField(max_length=255, blank=True, default="")
    # Bumped by every rebuild; a build of an older generation may not touch the workflow.
    build_generation = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    # While set, no automatic run starts (manual runs still do); resuming skips the slots it missed.
    paused_at = models.DateTimeField(null=True, blank=True)
    # A dependency schedule (`{"after": id, "on": ...}`) in columns, so that finishing a job finds
    # the workflows it starts by an index. A deleted upstream leaves its dependents waiting on nothing.
    upstream = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dependents",
        editable=False,
        db_index=False,  # the partial index below: only the few dependents are in it
    )
    upstream_on = models.CharField(max_length=10, choices=DependencyOutcome.choices, blank=True, default="")
    # A ping workflow's key is derived from SECRET_KEY, its id and this generation (workflows.pings):
    # only its digest is stored, for the lookup, so the database alone does not reveal it.
    ping_key_generation = models.PositiveIntegerField(default=0, editable=False)
    ping_key_digest = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    termination_reason = models.CharField(max_length=32, choices=TerminationReason.choices, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="workflows_user_page"),
            # The scheduler's due query reads only live, built, unpaused workflows in next_run_at order.
            models.Index(
                fields=["next_run_at"],
                name="workflows_due_unpaused",
                condition=Q(
                    terminated_at__isnull=True,
                    paused_at__isnull=True,
                    build_status="COMPLETED",
                    next_run_at__isnull=False,
                ),
            ),
            models.Index(fields=["user", "kind"], name="workflows_user_kind"),
            # Finishing a batch of jobs looks up their dependents: a small index, read in microseconds.
            models.Index(fields=["upstream"], name="workflows_dependents", condition=Q(upstream__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval__isnull=True) | Q(interval__gte=1, interval__lte=MAX_INTERVAL_MINUTES),
                name="workflows_interval_range",
            ),
            models.CheckConstraint(
                condition=Q(max_consecutive_job_failures_allowed__gte=1, max_consecutive_job_failures_allowed__lte=100),
                name="workflows_failure_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(interval__isnull=True, schedule__isnull=False)
                | Q(interval__isnull=False, schedule__isnull=True),
                name="workflows_interval_xor_schedule",
            ),
            models.CheckConstraint(
                condition=Q(start_at__isnull=True) | Q(end_at__isnull=True) | Q(end_at__gt=models.F("start_at")),
                name="workflows_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_terminated(self) -> bool:
        return self.terminated_at is not None

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def is_ping(self) -> bool:
        return is_ping(self.kind, self.payload or {})

    @property
    def runs_on_clock(self) -> bool:
        return runs_on_clock(self.schedule)

    @property
    def image_repository(self) -> str:
        return image_repository(self.id)


def is_ping(kind: str, payload: dict) -> bool:
    """A HEARTBEAT that waits for its own job's pings instead of calling out (jobs.pings)."""
    return kind == WorkflowKind.HEARTBEAT and "ping" in payload


DEFAULT_PING_GRACE = 300  # seconds either side of a slot


def ping_grace(payload: dict) -> int:
    """A ping workflow's grace in seconds (stored payloads keep only what the user gave)."""
    return payload["ping"].get("grace", DEFAULT_PING_GRACE)


DEFAULT_ACK_TIMEOUT = 30  # seconds a WEBSOCKET job waits for a client's acknowledgement


def ack_timeout(payload: dict) -> int:
    """A WEBSOCKET workflow's ack timeout in seconds (stored payloads keep only what the user gave)."""
    return payload.get("ack_timeout", DEFAULT_ACK_TIMEOUT)


def image_repository(workflow_id) -> str:
    """Where images built from a workflow's Dockerfile are tagged (`<repository>:<generation>`); by
    id, since its images are removed after the workflow itself is gone."""
    return f"chronoverse-wf/{workflow_id}"


class WorkflowBuild(models.Model):
    """One attempt to prepare a CONTAINER workflow's image; its output is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="builds")
    generation = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=BuildStatus.choices, default=BuildStatus.QUEUED)
    image_ref = models.CharField(max_length=255, blank=True, default="")
    output = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "generation"], name="workflows_build_generation")]

    def __str__(self) -> str:
        return f"build {self.generation} of {self.workflow_id}: {self.status}"


class IdempotencyKey(models.Model):
    """Remembers a create request by its Idempotency-Key, so a retried POST returns the same workflow."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="workflows_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.workflow_id}"
