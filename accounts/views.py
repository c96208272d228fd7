"""Dashboard pages of accounts: log in, sign up, log out, and the settings page (tokens, preferences)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import DeliveryForm, LoginForm, PreferenceForm, SignupForm, TokenForm
from accounts.request_types import AuthenticatedHttpRequest
from chronoverse.api_errors import retry_after_header
from chronoverse.errors import ServiceError
from notifications.models import DeliverySettings
from notifications.services import delivery_settings_update


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
def settings_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = services.RequestContext.from_request(request)
    preference_form = PreferenceForm(initial={"notification_preference": request.user.notification_preference})
    token_form = TokenForm()
    delivery = DeliverySettings.objects.filter(user=request.user).first()
    delivery_form = DeliveryForm(
        initial={
            "email_alerts": delivery.email_alerts,
            "webhook_url": delivery.webhook_url,
            "webhook_secret": delivery.webhook_secret,
        }
        if delivery
        else None
    )
    new_secret = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "preference":
            preference_form = PreferenceForm(request.POST)
            if preference_form.is_valid():
                services.user_update(
                    user=request.user,
                    context=context,
                    notification_preference=preference_form.cleaned_data["notification_preference"],
                )
                messages.success(request, "Notification preference saved.")
                return redirect("accounts:settings")
        elif action == "delivery":
            delivery_form = DeliveryForm(request.POST)
            if delivery_form.is_valid():
                delivery_settings_update(user=request.user, **delivery_form.cleaned_data)
                messages.success(request, "Alert delivery saved.")
                return redirect("accounts:settings")
        elif action == "create_token":
            token_form = TokenForm(request.POST)
            if token_form.is_valid():
                try:
                    _, new_secret = services.token_create(
                        user=request.user,
                        name=token_form.cleaned_data["name"],
                        scopes=token_form.scopes(),
                        expires_at=token_form.cleaned_data["expires_at"],
                        context=context,
                    )
                except ServiceError as error:
                    token_form.add_error(None, error.message)
                else:
                    token_form = TokenForm()
        elif action == "revoke_token":
            try:
                services.token_revoke(
                    user=request.user, token_id=uuid.UUID(request.POST.get("token_id", "")), context=context
                )
                messages.success(request, "Token revoked.")
            except (ServiceError, ValueError):
                messages.error(request, "No such token.")
            return redirect("accounts:settings")
    return render(
        request,
        "accounts/settings.html",
        {
            "preference_form": preference_form,
            "delivery_form": delivery_form,
            "token_form": token_form,
            "new_secret": new_secret,
            "tokens": selectors.token_list(user=request.user, include_revoked=True).order_by("-created_at")[:100],
            "audit_entries": selectors.audit_log_list(user=request.user).order_by("-created_at")[:20],
        },
    )
