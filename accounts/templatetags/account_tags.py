"""Template helpers of the account pages: the display-timezone form and audit actions by name."""

from __future__ import annotations

from django import template

from accounts.forms import TimezoneForm
from accounts.middleware import TIMEZONE_COOKIE
from accounts.models import AuditAction, timezone_names

register = template.Library()

_AUDIT_LABELS = dict(AuditAction.choices)


@register.inclusion_tag("accounts/_timezone_form.html", takes_context=True)
def timezone_form(context: template.Context) -> dict:
    """The settings page's zone picker; it posts to accounts:timezone (the page itself is the
    notifications app's view, so the form carries its own state)."""
    request = context["request"]
    browser = request.COOKIES.get(TIMEZONE_COOKIE, "")
    label = f"Your browser's zone (now {browser})" if browser in timezone_names() else "Your browser's zone"
    return {
        "form": TimezoneForm(initial={"display_timezone": request.user.display_timezone}, browser_label=label),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def audit_label(action: str) -> str:
    """`user.login` reads "Logged in"; an action of another app (`job.manual_run`) "Job manual run"."""
    if action in _AUDIT_LABELS:
        return str(_AUDIT_LABELS[action])
    return action.replace(".", " ").replace("_", " ").capitalize()
