from django import forms
from django.contrib import admin, messages

from accounts.services import RequestContext
from chronoverse.admin_search import UuidPrefixSearchMixin
from chronoverse.errors import ServiceError
from workflows import services
from workflows.models import IdempotencyKey, Workflow, WorkflowBuild, WorkflowKind
from workflows.validation import clean_update, current_fields

# What an operator may change here; it goes through workflow_update, under the API's rules.
EDITABLE = ("name", "description", "metadata")


class TerminatedFilter(admin.SimpleListFilter):
    title = "terminated"
    parameter_name = "terminated"

    def lookups(self, request, model_admin):
        return [("yes", "Terminated"), ("no", "Live")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(terminated_at__isnull=self.value() == "no")
        return queryset


class WorkflowBuildInline(admin.TabularInline):
    model = WorkflowBuild
    extra = 0
    can_delete = False
    fields = ["generation", "status", "image_ref", "error", "created_at", "started_at", "finished_at"]
    readonly_fields = fields  # type: ignore[assignment]  # a flat list of names; the stubs type `fields` as field groups
    ordering = ["-generation"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class WorkflowAdminForm(forms.ModelForm):
    """Checks the edited fields by the API's rules, so a refusal shows on its input and saves nothing."""

    class Meta:
        model = Workflow
        fields = list(EDITABLE)

    def clean(self):
        cleaned = super().clean() or {}
        changed = {name: cleaned[name] for name in EDITABLE if name in self.changed_data and name in cleaned}
        if changed:
            try:
                clean_update(current_fields(self.instance), changed)
            except ServiceError as error:
                for name, problems in (error.fields or {"non_field_errors": [error.message]}).items():
                    top = name.partition(".")[0]
                    self.add_error(top if top in self.fields else None, problems)
        return cleaned


# Registered by the jobs app (jobs/admin.py), which adds what takes the workflow's jobs along:
# deleting and terminating.
class WorkflowAdmin(UuidPrefixSearchMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "user",
        "build_status",
        "interval",
        "next_run_at",
        "paused_at",
        "consecutive_job_failures_count",
        "terminated_at",
        "created_at",
    ]
    list_filter = ["kind", "build_status", "concurrency_policy", TerminatedFilter]
    search_fields = ["name", "description", "user__email", "=id", "tags"]
    search_help_text = "A name, description, tag, user email, or a workflow id (its first 8 characters will do)."
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    readonly_fields = [
        "id",
        "user",
        "kind",
        "payload",
        "interval",
        "schedule",
        "timezone",
        "max_consecutive_job_failures_allowed",
        "consecutive_job_failures_count",
        "concurrency_policy",
        "tags",
        "start_at",
        "end_at",
        "build_status",
        "build_error",
        "image_ref",
        "build_generation",
        "next_run_at",
        "paused_at",
        "created_at",
        "updated_at",
        "terminated_at",
        "termination_reason",
    ]
    form = WorkflowAdminForm
    fields = ["id", "user", *EDITABLE, *readonly_fields[2:]]
    inlines = [WorkflowBuildInline]
    actions = ["pause", "resume", "rebuild"]

    # Workflows are created and changed through the API or the dashboard, where every rule applies;
    # the admin inspects them, edits their name, description and metadata, and runs the operator actions.
    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        changed = {name: getattr(obj, name) for name in EDITABLE if name in form.changed_data}
        if change and changed:
            try:
                services.workflow_update(workflow=obj, data=changed, context=RequestContext.from_request(request))
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)

    def _each(self, request, workflows, service) -> int:
        """Apply a workflow service to each, in the operator's name; returns how many."""
        context = RequestContext.from_request(request)
        count = 0
        for workflow in workflows:
            service(workflow=workflow, context=context)
            count += 1
        return count

    @admin.action(description="Pause the selected workflows")
    def pause(self, request, queryset):
        self._each(
            request, queryset.filter(terminated_at__isnull=True, paused_at__isnull=True), services.workflow_pause
        )
        self.message_user(request, "Paused.")

    @admin.action(description="Resume the selected workflows")
    def resume(self, request, queryset):
        live = queryset.filter(terminated_at__isnull=True, paused_at__isnull=False)
        self._each(request, live, services.workflow_resume)
        self.message_user(request, "Resumed.")

    @admin.action(description="Rebuild the selected CONTAINER workflows")
    def rebuild(self, request, queryset):
        containers = queryset.filter(kind=WorkflowKind.CONTAINER, terminated_at__isnull=True)
        count = self._each(request, containers, services.workflow_rebuild)
        self.message_user(request, f"Queued {count} build(s).")


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "workflow", "created_at"]
    search_fields = ["key", "user__email", "=workflow__id"]
    list_select_related = ["user", "workflow"]
    readonly_fields = ["user", "key", "request_hash", "workflow", "created_at"]

    # Keys only record what was created; changing one would break the replay it exists for.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
