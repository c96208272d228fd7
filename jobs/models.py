from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from workflows.models import Workflow


class JobStatus(models.TextChoices):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


UNFINISHED = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING)
# A ping workflow's slot is held by no worker: it waits RUNNING under this name, its lease being
# the slot's deadline (slot + grace), until a ping settles it or the tick fails it.
PING_WORKER = "ping"
# A WEBSOCKET job is held by no worker either: it waits RUNNING under this name, its lease being
# its ack deadline (start + ack_timeout), until a client acknowledges it or the tick fails it.
CLIENT_WORKER = "client"
# Jobs that wait for the outside world rather than run: their leases are deadlines, not renewed.
WAITING_WORKERS = (PING_WORKER, CLIENT_WORKER)
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


class JobTrigger(models.TextChoices):
    AUTOMATIC = "AUTOMATIC"
    MANUAL = "MANUAL"
    DEPENDENCY = "DEPENDENCY"


class Job(models.Model):
    """One run of a workflow. Its status only moves forward, through conditional updates."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="jobs")
    # The owner, copied from the workflow: ownership checks and per-user figures need no join.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    trigger = models.CharField(max_length=10, choices=JobTrigger.choices, default=JobTrigger.AUTOMATIC)
    scheduled_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    attempt = models.PositiveSmallIntegerField(default=1)
    # Who runs it and until when that claim holds; a worker renews the lease while the job runs.
    worker = models.CharField(max_length=255, blank=True, default="")
    # The worker host whose engine runs (or ran) its container: what touches the container is sent
    # there (chronoverse.hosts). Kept after the job ends; a retry's claim sets its own.
    host = models.CharField(max_length=255, blank=True, default="", db_default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    canceled_by = models.CharField(max_length=64, blank=True, default="")
    # A running container job is reported CANCELED only once its container is gone: until then it
    # stays RUNNING with this set, and the worker holding it (or the reaper) stops the container.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # For a DEPENDENCY job: the upstream job whose end started it.
    upstream_job = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A failure of the platform rather than of the job: it does not count toward auto-termination.
    infrastructure_failure = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            # A slot of a workflow's schedule yields one automatic job, whatever races to create it.
            models.UniqueConstraint(
                fields=["workflow", "scheduled_at"],
                condition=Q(trigger="AUTOMATIC"),
                name="jobs_one_automatic_job_per_slot",
            ),
            # An upstream job starts a dependent workflow once, whatever retries or racing workers do.
            models.UniqueConstraint(
                fields=["workflow", "upstream_job"],
                condition=Q(upstream_job__isnull=False),
                name="jobs_one_dependency_job_per_upstream_job",
            ),
        ]
        indexes = [
            models.Index(fields=["workflow", "-created_at", "-id"], name="jobs_workflow_page"),
            models.Index(fields=["user", "-created_at", "-id"], name="jobs_user_page"),
            models.Index(
                fields=["workflow"],
                name="jobs_workflow_active",
                condition=Q(status__in=["PENDING", "QUEUED", "RUNNING"]),
            ),
            models.Index(
                fields=["status", "updated_at"],
                name="jobs_unfinished_by_age",
                condition=Q(status__in=["PENDING", "QUEUED", "RUNNING"]),
            ),
            # The slots that wait for a ping, by deadline: the tick fails the overdue ones in one query.
            models.Index(
                fields=["lease_expires_at"],
                name="jobs_waiting_for_ping",
                condition=Q(status="RUNNING", worker=PING_WORKER),
            ),
            # A user's jobs in progress by status (analytics): the few unfinished ones among millions.
            models.Index(
                fields=["user", "status"],
                name="jobs_user_active",
                condition=Q(status__in=["PENDING", "QUEUED", "RUNNING"]),
            ),
            # The jobs that wait for a client's ack, by deadline: the tick fails the overdue ones in
            # one query, and a client that connects reads its user's waiting jobs from these few.
            models.Index(
                fields=["lease_expires_at"],
                name="jobs_waiting_for_ack",
                condition=Q(status="RUNNING", worker=CLIENT_WORKER),
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class LogStream(models.TextChoices):
    STDOUT = "stdout"
    STDERR = "stderr"


class JobLog(models.Model):
    """One line of a job's output. Written in batches with COPY, numbered per job."""

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="logs", db_index=False)
    sequence = models.PositiveIntegerField()
    stream = models.CharField(max_length=6, choices=LogStream.choices)
    message = models.TextField()
    timestamp = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "sequence"], name="jobs_log_sequence")]
        indexes = [models.Index(fields=["timestamp"], name="jobs_log_timestamp")]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.sequence}"


class PingKind(models.TextChoices):
    SUCCESS = "success"
    START = "start"
    FAIL = "fail"


class Ping(models.Model):
    """One call of a ping workflow's `ping_url`, kept whether or not it settled a slot."""

    id = models.BigAutoField(primary_key=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="pings", db_index=False)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=7, choices=PingKind.choices)
    exit_status = models.PositiveSmallIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(default=dj_timezone.now)
    remote_addr = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=512, blank=True, default="")
    body = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["workflow", "-received_at", "-id"], name="pings_workflow_page")]

    def __str__(self) -> str:
        return f"ping {self.kind} of {self.workflow_id} at {self.received_at}"


class JobRollup(models.Model):
    """Counters of finished jobs and stored log lines, kept by the services that finish jobs and store
    logs, in the same transaction (jobs.rollups). A row sums one user's jobs of one workflow
    (`workflow_id`) or of all their workflows (null) over one UTC hour (`period`) or all time (null).

    `workflow_id` is no foreign key: the jobs of a deleted workflow stay in its user's totals.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    workflow_id = models.UUIDField(null=True, blank=True)
    period = models.DateTimeField(null=True, blank=True)
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    canceled = models.BigIntegerField(default=0)
    # COMPLETED and FAILED jobs that have a duration (a job that never started has none).
    duration_count = models.BigIntegerField(default=0)
    duration_sum = models.FloatField(default=0.0)
    log_lines = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "workflow_id", "period"], name="jobs_rollup_key", nulls_distinct=False
            ),
        ]
        indexes = [
            # The platform's totals (/metrics) read one row per user.
            models.Index(
                fields=["user"],
                name="jobs_rollup_user_totals",
                condition=Q(workflow_id__isnull=True, period__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"rollup {self.user_id}/{self.workflow_id or '*'}/{self.period or 'all'}"


class JobDurationCount(models.Model):
    """All-time histogram of finished job durations in fixed buckets (jobs.rollups.duration_bucket),
    per user and workflow (or all of the user's workflows: null), from which percentiles are read."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    workflow_id = models.UUIDField(null=True, blank=True)
    bucket = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "workflow_id", "bucket"], name="jobs_duration_bucket_key", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"durations {self.user_id}/{self.workflow_id or '*'}#{self.bucket}: {self.count}"


class ClientDelivery(models.Model):
    """How a WEBSOCKET job's event went out: to how many client sockets, and which one acked it.

    Written when the job starts waiting; the job's status stays the truth about the outcome."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, primary_key=True, related_name="delivery")
    # Copied from the payload when the job starts: a later payload change does not redirect it.
    client_name = models.CharField(max_length=64)
    sent_count = models.PositiveIntegerField(default=0, help_text="Sockets the event was sent to (resends count).")
    acked_by = models.CharField(max_length=255, blank=True, default="", help_text="The socket whose ack completed it.")
    acked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "client deliveries"

    def __str__(self) -> str:
        return f"delivery of {self.job_id} to {self.client_name}"


class ClientConnection(models.Model):
    """A client-hook socket that is (or recently was) connected: the workflow page's "connected
    clients". Its consumer deletes it on disconnect and refreshes `last_seen_at` while open, so
    the row of a socket whose web process died is seen as gone once it is stale (and is swept)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    client_name = models.CharField(max_length=64)
    remote_addr = models.CharField(max_length=64, blank=True, default="")
    connected_at = models.DateTimeField(default=dj_timezone.now)
    last_seen_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "client_name"], name="jobs_client_connections")]

    def __str__(self) -> str:
        return f"{self.client_name} ({str(self.id)[:8]})"

    @property
    def label(self) -> str:
        """How a delivery names the socket that acked it."""
        where = f" from {self.remote_addr}" if self.remote_addr else ""
        return f"{self.client_name}{where} (connection {str(self.id)[:8]})"
