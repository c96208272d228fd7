"""Dashboard pages of accounts: log in, sign up and log out, password change and reset (Django's own
views, audited), the display timezone and the audit log. The settings page (preferences, alert
delivery, tokens) spans accounts and notifications, so it is the notifications app's."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import LoginForm, PasswordChangeForm, SetPasswordForm, SignupForm, TimezoneForm
from accounts.models import AuditAction
from accounts.request_types import AuthenticatedHttpRequest
from chronoverse.api_errors import retry_after_header
from chronoverse.dashboard import dashboard_page
from chronoverse.errors import ServiceError


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "dashboard:home"


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = LoginForm(request.POST or None)
    status = 200
    retry_after = None
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_check_credentials(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                context=services.RequestContext.from_request(request),
                request=request,
            )
        except ServiceError as error:
            form.add_error(None, error.message)
            status = error.status
            retry_after = error.retry_after
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_next_url(request))
    response = render(
        request, "accounts/login.html", {"form": form, "next": request.GET.get("next", "")}, status=status
    )
    if retry_after is not None:
        response["Retry-After"] = retry_after_header(retry_after)
    return response


def signup_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user, _ = services.user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                context=services.RequestContext.from_request(request),
                issue_token=False,
            )
        except ServiceError as error:
            form.add_error("email" if error.code == "conflict" else None, error.message)
            status = error.status
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Chronoverse.")
            return redirect("dashboard:home")
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.user_logout(user=request.user, token=None, context=services.RequestContext.from_request(request))
    logout(request)
    return redirect("accounts:login")


@login_required
@require_POST
def timezone_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = TimezoneForm(request.POST)
    if form.is_valid():
        services.user_update(
            user=request.user,
            display_timezone=form.cleaned_data["display_timezone"],
            context=services.RequestContext.from_request(request),
        )
        messages.success(request, "Display timezone saved.")
    else:
        messages.error(request, "Choose a timezone from the list.")
    return redirect(reverse("accounts:settings") + "#timezone")


@login_required
def audit_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = dashboard_page(request, lambda: selectors.audit_log_list(user=request.user))
    return render(
        request,
        "accounts/audit.html",
        {"entries": page.items, "next_query": page.next_query, "first_query": page.first_query},
        status=page.status,
    )


class _AuditsPasswordSet:
    """For Django's views that set a password: the audit log records it once Django has saved it."""

    audit_action: AuditAction
    request: HttpRequest

    def form_valid(self, form):
        response = super().form_valid(form)  # type: ignore[misc]  # the auth view's, next in the MRO
        services.user_password_audit(
            user=form.user, action=self.audit_action, context=services.RequestContext.from_request(self.request)
        )
        return response


class PasswordChangeView(_AuditsPasswordSet, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:settings")
    audit_action = AuditAction.PASSWORD_CHANGED

    def form_valid(self, form):
        # Django saves the password and keeps this session signed in (the others are logged out).
        response = super().form_valid(form)
        messages.success(self.request, "Password changed. Your other sessions are signed out; API tokens still work.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Mails a one-time link through the configured EMAIL_BACKEND (console unless EMAIL_HOST is set).
    The answer is the same whether or not the address has an account."""

    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        decision = services.password_reset_request(
            email=form.cleaned_data["email"], context=services.RequestContext.from_request(self.request)
        )
        if not decision.allowed:
            form.add_error(None, "Too many reset requests; try again later.")
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = retry_after_header(decision.retry_after)
            return response
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(_AuditsPasswordSet, auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    audit_action = AuditAction.PASSWORD_RESET


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
