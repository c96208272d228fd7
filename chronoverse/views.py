"""Dashboard home (a landing page for visitors) and the site-wide error pages (JSON under /api/,
HTML elsewhere)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from chronoverse.api_errors import is_api_path, json_error


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        # A stranger learns what this is and where to start, rather than meeting a bare login form.
        return render(request, "dashboard/landing.html")
    return render(request, "dashboard/home.html")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request):
        return json_error("not_found", "No such endpoint.", 404)
    return render(request, "404.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request):
        return json_error("permission_denied", "You do not have permission to perform this action.", 403)
    return render(request, "403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return json_error("internal", "Internal server error.", 500)
    # Rendered without the request: its context processors read the session and the database,
    # which may be what just failed.
    return HttpResponseServerError(loader.get_template("500.html").render())
