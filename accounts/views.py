"""Dashboard pages of accounts: log in, sign up and log out. The settings page (preferences, alert
delivery, tokens) spans accounts and notifications, so it is the notifications app's."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import LoginForm, SignupForm
from chronoverse.api_errors import retry_after_header
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
