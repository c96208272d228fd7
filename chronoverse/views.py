"""Dashboard home and the site-wide error pages (JSON under /api/, HTML elsewhere)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chronoverse.api_errors import is_api_path, json_error


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/home.html")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request):
        return json_error("not_found", "No such endpoint.", 404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return json_error("internal", "Internal server error.", 500)
    return render(request, "500.html", status=500)
