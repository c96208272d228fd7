"""Admin search by the short ids the dashboard shows (the first 8 hex digits of a UUID).

A prefix is searched as a range of UUIDs (`abcd1234-0000-…` to `abcd1234-ffff-…`), which the
primary key's index answers, where `id::text LIKE 'abcd1234%'` would read every row.
"""

from __future__ import annotations

import re
import uuid

from django.db.models import Q, QuerySet
from django.http import HttpRequest

_HEX = re.compile(r"[0-9a-f]{4,32}")


def uuid_prefix_bounds(term: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The lowest and highest UUIDs starting with `term` (4 to 32 hex digits, dashes ignored)."""
    digits = term.strip().lower().replace("-", "")
    if not _HEX.fullmatch(digits):
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


class UuidPrefixSearchMixin:
    """For a ModelAdmin: a search term that is a UUID prefix also finds the rows whose fields in
    `uuid_prefix_search_fields` start with it, besides the usual `search_fields` matches."""

    uuid_prefix_search_fields: tuple[str, ...] = ("id",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        found, may_have_duplicates = super().get_search_results(  # type: ignore[misc]
            request, queryset, search_term
        )
        bounds = uuid_prefix_bounds(search_term)
        if bounds is not None:
            by_prefix = Q()
            for name in self.uuid_prefix_search_fields:
                by_prefix |= Q(**{f"{name}__range": bounds})
            found = found | queryset.filter(by_prefix)
        return found, may_have_duplicates
