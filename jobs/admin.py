from django.contrib import admin, messages
from django.utils import timezone

from accounts.services import RequestContext
from chronoverse.admin_search import UuidPrefixSearchMixin
from chronoverse.errors import ServiceError
from jobs import services
from jobs.clients import stale_before
from jobs.models import UNFINISHED, ClientConnection, ClientDelivery, Job, JobLog, JobStatus
from workflows.admin import WorkflowAdmin
from workflows.models import Workflow

SHOWN_LINES = 200


class JobLogInline(admin.TabularInline):
    model = JobLog
    extra = 0
    can_delete = False
    fields = ["sequence", "stream", "message", "timestamp"]
    readonly_fields = fields  # type: ignore[assignment]  # a flat list of names; the stubs type `fields` as field groups
    ordering = ["sequence"]
    max_num = 0

    def get_queryset(self, request):
        # The first lines only: a chatty job's full log is for the API's download.
        queryset = super().get_queryset(request)
        job_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if job_id is None:
            return queryset.none()
        first = queryset.filter(job_id=job_id).order_by("sequence").values("pk")[:SHOWN_LINES]
        return queryset.filter(pk__in=first).order_by("sequence")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ClientDeliveryInline(admin.StackedInline):
    """A WEBSOCKET job's delivery: to how many sockets, acknowledged by which one, when."""

    model = ClientDelivery
    can_delete = False
    fields = ["client_name", "sent_count", "acked_by", "acked_at"]
    readonly_fields = fields  # type: ignore[assignment]  # a flat list of names; the stubs type `fields` as field groups
    max_num = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(UuidPrefixSearchMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "workflow",
        "status",
        "trigger",
        "scheduled_at",
        "started_at",
        "duration",
        "attempt",
        "exit_code",
    ]
    list_filter = ["status", "trigger", "infrastructure_failure"]
    # Also by a prefix of the job's or its workflow's id: the dashboard shows the first 8 digits.
    search_fields = ["=id", "=workflow__id", "workflow__name", "user__email"]
    uuid_prefix_search_fields = ("id", "workflow__id")
    search_help_text = "A job id or its first 8 characters, a workflow id, workflow name or user email."
    list_select_related = ["workflow"]
    raw_id_fields = ["workflow", "user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [ClientDeliveryInline, JobLogInline]
    actions = ["cancel", "rerun"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    @admin.display(description="Job", ordering="id")
    def short_id(self, job: Job) -> str:
        return str(job.id)[:8]

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration(self, job: Job) -> str:
        # As the dashboard shows it; the raw float has sixteen digits.
        return "—" if job.duration_seconds is None else f"{job.duration_seconds:.2f} s"

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset):
        context = RequestContext.from_request(request)
        canceled = stopping = 0
        for job in queryset.filter(status__in=UNFINISHED).select_related("workflow", "user"):
            try:
                job = services.job_cancel(
                    job=job, canceled_by=f"admin:{request.user.pk}", user=request.user, context=context
                )
            except ServiceError:
                continue
            # Running containers are stopped by their workers first (no waiting here for many jobs).
            if job.status == JobStatus.CANCELED:
                canceled += 1
            else:
                stopping += 1
        message = f"Canceled {canceled} job(s)."
        if stopping:
            message += f" {stopping} running container job(s) are being stopped and will then show CANCELED."
        self.message_user(request, message)

    @admin.action(description="Run the workflows of the selected jobs again")
    def rerun(self, request, queryset):
        context = RequestContext.from_request(request)
        for job in queryset.select_related("workflow", "workflow__user"):
            try:
                services.job_run_manually(workflow=job.workflow, user=request.user, context=context)
            except ServiceError as error:
                self.message_user(request, f"{job.workflow.name}: {error.message}", messages.ERROR)
        self.message_user(request, "Re-run requested.")


@admin.register(Workflow)
class WorkflowWithJobsAdmin(WorkflowAdmin):
    """The workflows app's admin; deleting and terminating also end the workflow's jobs."""

    actions = ["terminate", *WorkflowAdmin.actions]

    def delete_model(self, request, obj):
        services.workflow_remove(workflow=obj, context=RequestContext.from_request(request))

    def delete_queryset(self, request, queryset):
        for workflow in queryset:
            self.delete_model(request, workflow)

    @admin.action(description="Terminate the selected workflows")
    def terminate(self, request, queryset):
        self._each(request, queryset.filter(terminated_at__isnull=True), services.workflow_stop)
        self.message_user(request, "Terminated.")


class PresenceFilter(admin.SimpleListFilter):
    title = "presence"
    parameter_name = "presence"

    def lookups(self, request, model_admin):
        return [("live", "Connected"), ("stale", "Gone (not yet swept)")]

    def queryset(self, request, queryset):
        cutoff = stale_before(timezone.now())
        if self.value() == "live":
            return queryset.filter(last_seen_at__gte=cutoff)
        if self.value() == "stale":
            return queryset.filter(last_seen_at__lt=cutoff)
        return queryset


@admin.register(ClientConnection)
class ClientConnectionAdmin(admin.ModelAdmin):
    """The client-hook sockets connected to /ws/clients/ (kept by their consumers; read only)."""

    list_display = ["client_name", "user", "remote_addr", "connected_at", "last_seen_at"]
    list_filter = [PresenceFilter]
    search_fields = ["client_name", "user__email", "remote_addr"]
    list_select_related = ["user"]
    ordering = ["-connected_at"]
    readonly_fields = ["id", "user", "client_name", "remote_addr", "connected_at", "last_seen_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
