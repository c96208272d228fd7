"""Dashboard page of analytics: the user's figures and charts over a chosen range."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.request_types import AuthenticatedHttpRequest
from analytics import selectors
from analytics.charts import charts_context
from chronoverse.errors import ServiceError


@login_required
def analytics_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    status = 200
    try:
        window = selectors.analytics_range(request.GET.get("range"))
    except ServiceError as error:
        messages.error(request, error.message)
        window, status = selectors.RANGES[selectors.DEFAULT_RANGE], error.status
    figures = selectors.user_analytics(user=request.user, window=window)
    histogram = selectors.duration_histogram(user=request.user)
    context = {**charts_context(figures, histogram, window.unit), "window": window, "ranges": selectors.RANGES}
    return render(request, "analytics/page.html", context, status=status)
