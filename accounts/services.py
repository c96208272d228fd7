"""Writes of the accounts app: registration, login, tokens, preferences, and the audit log."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, AuditAction, AuditLog, NotificationPreference, TokenScope, User, timezone_names
from chronoverse.errors import ServiceError
from chronoverse.ratelimit import RateDecision, rate_limit_hit
from chronoverse.redis_client import get_redis

TOKEN_MARK = "cv_"
# last_used_at is written at most this often per token, so authenticating is not a write per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
# Published with a token's id when it is revoked: every web process closes what that token opened
# (sockets, event streams) at once, where a later request would only be refused.
TOKEN_REVOKED_CHANNEL = "auth:token-revoked"


@dataclass(frozen=True)
class RequestContext:
    """Who is acting and from where, for the audit log. Built by the web adapters."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> RequestContext:
        return cls(ip=request.META.get("REMOTE_ADDR") or None, user_agent=request.META.get("HTTP_USER_AGENT", "")[:512])


SYSTEM = RequestContext()


def audit_record(
    *,
    user: User | None,
    action: str,
    context: RequestContext = SYSTEM,
    target: Any = None,
    details: dict | None = None,
) -> AuditLog:
    return AuditLog.objects.create(
        user=user,
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        ip=context.ip,
        user_agent=context.user_agent,
        details=details or {},
    )


def _digest(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough; a slow one would only add
    # latency to every API call.
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    context: RequestContext = SYSTEM,
    issued_by: User | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its secret, which is never stored and never shown again.
    `issued_by` is the operator who created it for the user (from the admin), named in the audit log."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("expires_at must be in the future.", fields={"expires_at": ["Must be in the future."]})
    scopes = sorted(set(scopes))
    if TokenScope.WRITE in scopes and TokenScope.READ not in scopes:
        raise ServiceError(
            "A write token must also have the read scope.", fields={"scopes": ['Use ["read"] or ["read", "write"].']}
        )
    prefix = TOKEN_MARK + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=prefix, digest=_digest(secret), scopes=scopes, expires_at=expires_at
        )
        audit_record(
            user=user,
            action=AuditAction.TOKEN_CREATED,
            context=context,
            target=token,
            details={
                "name": name,
                "scopes": scopes,
                "prefix": prefix,
                **({"issued_by": issued_by.email} if issued_by is not None else {}),
            },
        )
    return token, secret


def token_revoke(*, user: User, token_id, context: RequestContext = SYSTEM) -> ApiToken:
    """Revoke one of `user`'s tokens. Revoking an already revoked token changes nothing."""
    token = ApiToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise ServiceError("Token not found.", code="not_found")
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            _announce_revoked(token)
            audit_record(
                user=user,
                action=AuditAction.TOKEN_REVOKED,
                context=context,
                target=token,
                details={"name": token.name, "prefix": token.prefix},
            )
    token.refresh_from_db()
    return token


def _announce_revoked(token: ApiToken) -> None:
    token_id = str(token.pk)
    transaction.on_commit(lambda: get_redis().publish(TOKEN_REVOKED_CHANNEL, token_id), robust=True)


# Which user a token digest belongs to, as this process last saw it: lets a request from a user who
# has used up their rate limit be refused before any database work (see accounts.middleware).
_TOKEN_OWNERS: dict[str, tuple[str, float]] = {}
_TOKEN_OWNERS_MAX = 10_000
TOKEN_OWNER_TTL_SECONDS = 300.0


def token_owner_seen(secret: str) -> str | None:
    """The user id a recent successful authentication gave this secret, if any (no database)."""
    seen = _TOKEN_OWNERS.get(_digest(secret))
    if seen is None or seen[1] < time.monotonic():
        return None
    return seen[0]


def _remember_owner(digest: str, user_id) -> None:
    if len(_TOKEN_OWNERS) >= _TOKEN_OWNERS_MAX:
        _TOKEN_OWNERS.clear()  # crude but bounded; the map refills from the next requests
    _TOKEN_OWNERS[digest] = (str(user_id), time.monotonic() + TOKEN_OWNER_TTL_SECONDS)


def token_authenticate(secret: str) -> tuple[User, ApiToken] | None:
    """The user and token for a presented bearer secret, or None if it is unknown, revoked or expired."""
    if not secret.startswith(TOKEN_MARK) or len(secret) > 128:
        return None
    digest = _digest(secret)
    token = ApiToken.objects.select_related("user").filter(digest=digest).first()
    now = timezone.now()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    _remember_owner(digest, token.user_id)
    return token.user, token


def _login_token_expiry() -> datetime:
    return timezone.now() + timedelta(hours=settings.LOGIN_TOKEN_TTL_HOURS)


def user_register(
    *, email: str, password: str, context: RequestContext = SYSTEM, issue_token: bool = True
) -> tuple[User, str | None]:
    """Create an account (and, for API clients, a read/write token). A known email is a conflict."""
    decision = rate_limit_hit("register_ip", context.ip or "unknown")
    if not decision.allowed:
        raise ServiceError(
            "Too many sign-ups from this address.", code="rate_limited", retry_after=decision.retry_after
        )
    email = User.objects.normalize_email(email).lower()
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            audit_record(user=user, action=AuditAction.USER_REGISTERED, context=context, target=user)
            secret = None
            if issue_token:
                _, secret = token_create(
                    user=user,
                    name="registration",
                    scopes=[TokenScope.READ, TokenScope.WRITE],
                    expires_at=_login_token_expiry(),
                    context=context,
                )
    except IntegrityError:
        raise ServiceError(
            "An account with this email already exists.", code="conflict", fields={"email": ["Already registered."]}
        ) from None
    return user, secret


def user_check_credentials(*, email: str, password: str, context: RequestContext = SYSTEM, request=None) -> User:
    """The user these credentials belong to; throttled per email and per client IP, every try audited."""
    email = User.objects.normalize_email(email).lower()
    for scope, ident in (("login_email", email), ("login_ip", context.ip or "unknown")):
        decision = rate_limit_hit(scope, ident)
        if not decision.allowed:
            raise ServiceError(
                "Too many login attempts; try again later.", code="rate_limited", retry_after=decision.retry_after
            )
    user = authenticate(request, email=email, password=password)
    if user is None:
        audit_record(
            user=User.objects.filter(email=email).first(),
            action=AuditAction.LOGIN_FAILED,
            context=context,
            details={"email": email},
        )
        raise ServiceError("Invalid email or password.", code="unauthenticated")
    audit_record(user=user, action=AuditAction.LOGIN, context=context, target=user)
    return user


def user_login_token(*, email: str, password: str, context: RequestContext = SYSTEM) -> tuple[ApiToken, str]:
    """Check credentials and issue an expiring read/write token (the API's login)."""
    user = user_check_credentials(email=email, password=password, context=context)
    return token_create(
        user=user,
        name="login",
        scopes=[TokenScope.READ, TokenScope.WRITE],
        expires_at=_login_token_expiry(),
        context=context,
    )


def user_logout(*, user: User, token: ApiToken | None, context: RequestContext = SYSTEM) -> None:
    with transaction.atomic():
        if token is not None and ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        ):
            _announce_revoked(token)
        audit_record(
            user=user,
            action=AuditAction.LOGOUT,
            context=context,
            details={"token_prefix": token.prefix} if token else {},
        )


def user_update(
    *,
    user: User,
    notification_preference: str | None = None,
    display_timezone: str | None = None,
    context: RequestContext = SYSTEM,
) -> User:
    changes: dict[str, list] = {}
    if notification_preference is not None and notification_preference != user.notification_preference:
        if notification_preference not in NotificationPreference.values:
            raise ServiceError(
                "Unknown notification preference.", fields={"notification_preference": ["Must be ALL, ALERTS or NONE."]}
            )
        changes["notification_preference"] = [user.notification_preference, notification_preference]
        user.notification_preference = notification_preference
    if display_timezone is not None and display_timezone != user.display_timezone:
        if display_timezone and display_timezone not in timezone_names():
            raise ServiceError(
                "Unknown timezone.", fields={"display_timezone": ["Choose an IANA name such as Europe/Berlin."]}
            )
        changes["display_timezone"] = [user.display_timezone, display_timezone]
        user.display_timezone = display_timezone
    if changes:
        with transaction.atomic():
            user.save(update_fields=[*changes, "updated_at"])
            audit_record(
                user=user, action=AuditAction.USER_UPDATED, context=context, target=user, details={"changes": changes}
            )
    return user


def user_password_audit(*, user: User, action: AuditAction, context: RequestContext = SYSTEM) -> None:
    """Record a password change or reset done by Django's own views (which save the password)."""
    audit_record(user=user, action=action, context=context, target=user)


def password_reset_request(*, email: str, context: RequestContext = SYSTEM) -> RateDecision:
    """Counts a reset request per address and per client IP (each one sends a mail: a script must
    not turn the form into a mail cannon), and audits it on the account it names, if any."""
    email = User.objects.normalize_email(email).lower()
    for scope, ident in (("password_reset_email", email), ("password_reset_ip", context.ip or "unknown")):
        decision = rate_limit_hit(scope, ident)
        if not decision.allowed:
            return decision
    user = User.objects.filter(email=email, is_active=True).first()
    if user is not None:
        audit_record(user=user, action=AuditAction.PASSWORD_RESET_REQUESTED, context=context, target=user)
    return RateDecision(True, 0.0)


def token_prune_expired(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete tokens that expired or were revoked more than `older_than` ago."""
    cutoff = timezone.now() - older_than
    deleted, _ = ApiToken.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)).delete()
    return deleted
