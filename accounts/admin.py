from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import ApiToken, AuditLog, TokenScope, User
from accounts.services import RequestContext, token_create, token_revoke
from chronoverse.errors import ServiceError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["-created_at"]
    list_display = ["email", "notification_preference", "display_timezone", "is_active", "is_staff", "created_at"]
    list_filter = ["is_active", "is_staff", "notification_preference"]
    search_fields = ["email"]
    readonly_fields = ["created_at", "updated_at", "last_login", "api_tokens"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("API tokens", {"fields": ["api_tokens"]}),
        ("Preferences", {"fields": ["notification_preference", "display_timezone"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    @admin.display(description="API tokens")
    def api_tokens(self, user: User) -> str:
        tokens = reverse("admin:accounts_apitoken_changelist") + "?" + urlencode({"user__id__exact": user.pk})
        create = reverse("admin:accounts_apitoken_add") + "?" + urlencode({"email": user.email})
        return format_html('<a href="{}">Their tokens</a> · <a href="{}">Create a token for them</a>', tokens, create)


class TokenIssueForm(forms.Form):
    """An operator's token for a user: the fields of `POST /api/v1/tokens`, and whose it is."""

    email = forms.EmailField(max_length=254, label="User's email")
    name = forms.CharField(max_length=100)
    scopes = forms.ChoiceField(
        choices=[("read", "read"), ("read,write", "read, write")], initial="read", widget=forms.RadioSelect
    )
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional, UTC; the token never expires when empty.",
    )

    def clean_email(self) -> User:
        user = User.objects.filter(email__iexact=self.cleaned_data["email"]).first()
        if user is None:
            raise forms.ValidationError("No user has this email.")
        if not user.is_active:
            raise forms.ValidationError("This user is inactive: a token of theirs would be refused.")
        return user

    def scope_list(self) -> list[str]:
        return [TokenScope(scope) for scope in self.cleaned_data["scopes"].split(",")]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["id", "user", "prefix", "digest", "scopes", "created_at", "last_used_at", "revoked_at"]
    fields = ["id", "user", "name", "prefix", "scopes", "expires_at", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def add_view(self, request, form_url="", extra_context=None):
        """Create a token for a user through the same service as the API; its secret is shown on the
        answer to this POST only (not stored, not put in a message or a redirect)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TokenIssueForm(request.POST or None, initial={"email": request.GET.get("email", "")})
        if request.method == "POST" and form.is_valid():
            user = form.cleaned_data["email"]
            try:
                token, secret = token_create(
                    user=user,
                    name=form.cleaned_data["name"],
                    scopes=form.scope_list(),
                    expires_at=form.cleaned_data["expires_at"],
                    context=RequestContext.from_request(request),
                    issued_by=request.user,
                )
            except ServiceError as error:
                for name, messages in (error.fields or {"__all__": [error.message]}).items():
                    form.add_error(name if name in form.fields else None, messages)
            else:
                self.log_addition(request, token, [{"added": {}}])
                response = self._page(request, "admin/accounts/apitoken/issued.html", token=token, secret=secret)
                # The one copy of the secret: no cache may keep this page.
                response["Cache-Control"] = "no-store"
                return response
        return self._page(request, "admin/accounts/apitoken/issue.html", form=form)

    def _page(self, request, template: str, **context) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Create an API token",
                **context,
            },
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True).select_related("user"):
            token_revoke(user=token.user, token_id=token.pk, context=RequestContext.from_request(request))
        self.message_user(request, f"Revoked at {timezone.now():%H:%M:%S}.")


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "user", "target_type", "target_id", "ip"]
    list_filter = ["action"]
    search_fields = ["user__email", "target_id", "ip"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"

    # The audit log is append-only: nobody edits or deletes history from the admin.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
