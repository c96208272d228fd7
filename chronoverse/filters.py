"""Applying a django-filter FilterSet the way every list endpoint does: bad values are a 400."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from chronoverse.errors import ServiceError


def filtered(filterset_class: type[django_filters.FilterSet], data, queryset: QuerySet) -> QuerySet:
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        raise ServiceError.invalid(
            {name: [str(message) for message in messages] for name, messages in filterset.errors.items()}
        )
    return filterset.qs
