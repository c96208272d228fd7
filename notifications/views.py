"""Dashboard pages of notifications: the list with filters and mark-read (one or all)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.request_types import AuthenticatedHttpRequest
from chronoverse.dashboard import dashboard_page
from chronoverse.errors import ServiceError
from notifications import selectors, services
from notifications.models import NotificationKind


@login_required
def notification_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = dashboard_page(request, lambda: selectors.notification_list(user=request.user, filters=request.GET))
    return render(
        request,
        "notifications/list.html",
        {
            "notifications": page.items,
            "next_query": page.next_query,
            "kinds": NotificationKind.values,
            "kind": request.GET.get("kind", ""),
            "unread": request.GET.get("unread", ""),
        },
        status=page.status,
    )


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
            messages.error(request, "Choose 1 to 100 notifications.")
            return redirect("notifications:list")
    messages.success(request, f"Marked {updated} notification(s) read.")
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/notifications/") else "notifications:list")
