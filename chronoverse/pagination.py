"""Keyset (cursor) pagination shared by every list endpoint.

A cursor is the sort key of the last item of a page, so the next page is one indexed range query,
whatever its depth, and rows inserted meanwhile never shift a page (no duplicates, no gaps).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet

from chronoverse.errors import ServiceError

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page:
    items: list
    cursor: str | None


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, UUID) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, count: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != count:
        raise ServiceError("Malformed cursor.", fields={"cursor": ["Malformed cursor."]})
    return values


def parse_limit(raw: str | None, *, default: int = DEFAULT_LIMIT, maximum: int = DEFAULT_LIMIT) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ServiceError(
            f"limit must be an integer from 1 to {maximum}.",
            fields={"limit": [f"Must be an integer from 1 to {maximum}."]},
        )
    return int(raw)


def keyset_page(
    queryset: QuerySet,
    params,
    *,
    ordering: tuple[str, ...] = ("-created_at", "-id"),
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = DEFAULT_LIMIT,
) -> Page:
    """One page of `queryset` sorted by `ordering` (which must end in a unique field).

    `params` is the request's query dict: `limit` and `cursor` are read from it.
    """
    limit = parse_limit(params.get("limit"), default=default_limit, maximum=max_limit)
    names = [o.lstrip("-") for o in ordering]
    queryset = queryset.order_by(*ordering)
    cursor = params.get("cursor")
    if cursor:
        raw_values = _decode(cursor, len(names))
        model = queryset.model
        try:
            values = [model._meta.get_field(n).to_python(v) for n, v in zip(names, raw_values, strict=True)]
        except (DjangoValidationError, TypeError, ValueError):
            raise ServiceError("Malformed cursor.", fields={"cursor": ["Malformed cursor."]}) from None
        if any(v is None for v in values):
            raise ServiceError("Malformed cursor.", fields={"cursor": ["Malformed cursor."]})
        after = Q()
        for i, order in enumerate(ordering):
            step = Q(**{f"{names[i]}__{'lt' if order.startswith('-') else 'gt'}": values[i]})
            for j in range(i):
                step &= Q(**{names[j]: values[j]})
            after |= step
        # The first key's bound, redundant with the OR above, is what lets the index range start at
        # the cursor: without it the planner walks the index from the first row and filters, so a
        # deep page cost as much as all the pages before it.
        bound = Q(**{f"{names[0]}__{'lte' if ordering[0].startswith('-') else 'gte'}": values[0]})
        queryset = queryset.filter(bound & after)
    items = list(queryset[: limit + 1])
    if len(items) <= limit:
        return Page(items, None)
    items = items[:limit]
    last = items[-1]
    return Page(items, _encode([getattr(last, n) for n in names]))
