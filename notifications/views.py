"""Dashboard pages of notifications: the list with filters and mark-read (one or all), the bell's
menu (JSON for the script), and the settings page (preferences, alert delivery, tokens), served
as accounts:settings."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.forms import PreferenceForm, TokenForm
from accounts.request_types import AuthenticatedHttpRequest
from chronoverse.dashboard import dashboard_page
from chronoverse.errors import ServiceError
from chronoverse.serializers import format_timestamp
from notifications import labels, selectors, services
from notifications.forms import DeliveryForm
from notifications.models import DeliverySettings, Notification


@login_required
def notification_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = dashboard_page(request, lambda: selectors.notification_list(user=request.user, filters=request.GET))
    return render(
        request,
        "notifications/list.html",
        {
            "notifications": page.items,
            "next_query": page.next_query,
            "first_query": page.first_query,
            "kinds": labels.kind_choices(),
            "kind": request.GET.get("kind", ""),
            "unread": request.GET.get("unread", ""),
        },
        status=page.status,
    )


def _bell_item(notification: Notification) -> dict:
    payload = notification.payload or {}
    job_id, workflow_id = payload.get("job_id"), payload.get("workflow_id")
    url = reverse("jobs:detail", args=[job_id]) if job_id else None
    url = url or (reverse("workflows:detail", args=[workflow_id]) if workflow_id else None)
    return {
        "id": str(notification.id),
        "kind": notification.kind,
        "title": labels.notification_title(notification.kind, payload),
        "text": labels.notification_text(notification.kind, payload),
        "alert": labels.is_alert(notification.kind),
        "workflow_id": workflow_id,
        "url": url,
        "read": notification.read_at is not None,
        "created_at": format_timestamp(notification.created_at),
    }


@login_required
@require_GET
def notification_bell_view(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The bell's count and its menu's latest few, as the user's preference shapes them: what the
    script shows when the page opens a socket, and after it reconnects."""
    return JsonResponse(
        {
            "count": selectors.notification_bell_count(user=request.user),
            "preference": request.user.notification_preference,
            "notifications": [_bell_item(n) for n in selectors.notification_bell_latest(user=request.user)],
        }
    )


def _wants_json(request: AuthenticatedHttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def notification_mark_read_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.POST.get("all"):
        updated = services.notification_mark_all_read(user=request.user)
    else:
        try:
            ids = [uuid.UUID(value) for value in request.POST.getlist("ids")]
            updated = services.notification_mark_read(user=request.user, ids=ids)
        except (ValueError, ServiceError):
            if _wants_json(request):
                return JsonResponse({"error": "Choose 1 to 100 notifications."}, status=400)
            messages.error(request, "Choose 1 to 100 notifications.")
            return redirect("notifications:list")
    if _wants_json(request):  # the bell's menu, which stays on its page
        return JsonResponse({"updated": updated, "count": selectors.notification_bell_count(user=request.user)})
    messages.success(request, f"Marked {updated} notification(s) read.")
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) and target.startswith("/")
    return redirect(target if safe else "notifications:list")


@login_required
def settings_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = account_services.RequestContext.from_request(request)
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
                account_services.user_update(
                    user=request.user,
                    context=context,
                    notification_preference=preference_form.cleaned_data["notification_preference"],
                )
                messages.success(request, "Notification preference saved.")
                return redirect("accounts:settings")
        elif action == "delivery":
            delivery_form = DeliveryForm(request.POST)
            if delivery_form.is_valid():
                services.delivery_settings_update(user=request.user, **delivery_form.cleaned_data)
                messages.success(request, "Alert delivery saved.")
                return redirect("accounts:settings")
        elif action == "create_token":
            token_form = TokenForm(request.POST)
            if token_form.is_valid():
                try:
                    _, new_secret = account_services.token_create(
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
                account_services.token_revoke(
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
            "tokens": account_selectors.token_list(user=request.user, include_revoked=True).order_by("-created_at")[
                :100
            ],
            "audit_entries": account_selectors.audit_log_list(user=request.user).order_by("-created_at")[:20],
        },
    )
