from __future__ import annotations

import uuid
import zoneinfo
from functools import cache
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class NotificationPreference(models.TextChoices):
    ALL = "ALL"
    ALERTS = "ALERTS"
    NONE = "NONE"


@cache
def timezone_names() -> frozenset[str]:
    """The IANA zones this machine knows (a scan of the tz database: done once per process)."""
    return frozenset(zoneinfo.available_timezones())


def validate_timezone_name(value: str) -> None:
    if value and value not in timezone_names():
        raise ValidationError(f"Unknown timezone {value!r}; choose an IANA name such as 'Europe/Berlin'.")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address; owns workflows, tokens and notifications."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    notification_preference = models.CharField(
        max_length=6, choices=NotificationPreference.choices, default=NotificationPreference.ALL
    )
    # The zone the dashboard shows times in; empty follows the browser (see accounts/middleware.py).
    display_timezone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        validators=[validate_timezone_name],
        help_text="An IANA zone such as Europe/Berlin; empty: the zone of the browser in use.",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            # Emails are stored lower-cased; this keeps a mixed-case duplicate out even if a write
            # bypasses the manager.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class TokenScope(models.TextChoices):
    READ = "read"
    WRITE = "write"


class ApiToken(models.Model):
    """A bearer token. Only a SHA-256 digest of the secret is stored; `prefix` is what people see."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=8, choices=TokenScope.choices), size=2)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="accounts_token_user_page")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def can_write(self) -> bool:
        return TokenScope.WRITE in self.scopes


class AuditAction(models.TextChoices):
    # The labels are what the dashboard's audit page shows.
    USER_REGISTERED = "user.registered", "Account created"
    LOGIN = "user.login", "Logged in"
    LOGIN_FAILED = "user.login_failed", "Failed login"
    LOGOUT = "user.logout", "Logged out"
    USER_UPDATED = "user.updated", "Settings changed"
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    PASSWORD_CHANGED = "user.password_changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "user.password_reset_requested", "Password reset requested"
    PASSWORD_RESET = "user.password_reset", "Password reset"


class AuditLog(models.Model):
    """An append-only record of a security-relevant action. Later apps add their own actions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SET_NULL keeps the trail of a deleted account; failed logins for unknown emails have no user.
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_logs")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="accounts_audit_user_page")]

    def __str__(self) -> str:
        return f"{self.action} {self.created_at:%Y-%m-%d %H:%M:%S}"
