"""What every paged dashboard list does: one keyset page, filters kept in the page links, and bad
filters or cursors shown as a message (with their 400) rather than an error page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from chronoverse.errors import ServiceError
from chronoverse.pagination import keyset_page


@dataclass(frozen=True)
class DashboardPage:
    items: list
    next_query: str | None  # the query string of the next page, filters included
    first_query: str | None  # the query string of the first page, when this is a later one
    status: int


def dashboard_page(request: HttpRequest, select: Callable[[], QuerySet], *, default_limit: int = 50) -> DashboardPage:
    params = request.GET.copy()
    params.pop("cursor", None)
    first_query = params.urlencode() if request.GET.get("cursor") else None
    try:
        page = keyset_page(select(), request.GET, default_limit=default_limit)
    except ServiceError as error:
        messages.error(request, error.message)
        return DashboardPage([], None, first_query, error.status)
    if page.cursor:
        params["cursor"] = page.cursor
    return DashboardPage(page.items, params.urlencode() if page.cursor else None, first_query, 200)


T = TypeVar("T")


def owned_or_404(select: Callable[[], T]) -> T:
    """The user's own object; someone else's is a 404 like a missing one, so ids cannot be probed."""
    try:
        return select()
    except ServiceError as error:
        raise Http404(error.message) from None
