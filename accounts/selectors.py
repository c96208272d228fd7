"""Reads of the accounts app."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiToken, AuditLog, User


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def audit_log_list(*, user: User) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(user=user)
