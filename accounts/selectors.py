"""Reads of the accounts app."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiToken, AuditLog, User


def token_list(*, user: User, include_revoked: bool = False) -> QuerySet[ApiToken]:
    """The user's tokens; revoked ones only on request (the dashboard shows them struck out)."""
    tokens = ApiToken.objects.filter(user=user)
    return tokens if include_revoked else tokens.filter(revoked_at__isnull=True)


def audit_log_list(*, user: User) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(user=user)
