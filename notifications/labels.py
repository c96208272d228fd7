"""Humane names for notification kinds and reasons, wherever a person reads them (the list, the
bell, toasts). The API keeps the codes; these are only how the dashboard words them."""

from __future__ import annotations

from collections.abc import Mapping

from notifications.models import ALERT_KINDS, NotificationKind

KIND_TITLES: dict[str, str] = {
    NotificationKind.WORKFLOW_CREATED: "Workflow created",
    NotificationKind.WORKFLOW_UPDATED: "Workflow updated",
    NotificationKind.WORKFLOW_BUILD_COMPLETED: "Build completed",
    NotificationKind.WORKFLOW_BUILD_FAILED: "Build failed",
    NotificationKind.WORKFLOW_TERMINATED: "Workflow terminated",
    NotificationKind.WORKFLOW_PAUSED: "Workflow paused",
    NotificationKind.WORKFLOW_RESUMED: "Workflow resumed",
    NotificationKind.JOB_STARTED: "Job started",
    NotificationKind.JOB_COMPLETED: "Job completed",
    NotificationKind.JOB_FAILED: "Job failed",
    NotificationKind.JOB_CANCELED: "Job canceled",
    NotificationKind.SYSTEM_ALERT: "System alert",
}

# Termination reasons (workflows.models.TerminationReason) and the reasons of SYSTEM_ALERTs.
REASON_LABELS: dict[str, str] = {
    "manual": "Terminated by you",
    "consecutive_failures": "Too many consecutive failures",
    "schedule_ended": "Its schedule ended",
    "deleted": "Deleted",
    "consecutive_failures_threshold_near": "Near the failure threshold",
    "infrastructure_failure": "The platform failed to run it",
}


def kind_title(kind: str) -> str:
    return KIND_TITLES.get(kind) or kind.replace("_", " ").capitalize()


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason) or reason.replace("_", " ").capitalize()


def is_alert(kind: str) -> bool:
    return kind in ALERT_KINDS


def notification_title(kind: str, payload: Mapping) -> str:
    """The headline: the kind, or for a system alert what it is about ("Near the failure threshold")."""
    reason = payload.get("reason")
    if kind == NotificationKind.SYSTEM_ALERT and isinstance(reason, str) and reason:
        return reason_label(reason)
    return kind_title(kind)


def notification_text(kind: str, payload: Mapping) -> str:
    """One line under the headline: the workflow, then what went wrong or why."""
    parts = [str(payload["workflow_name"])] if payload.get("workflow_name") else []
    reason = payload.get("reason")
    if kind == NotificationKind.WORKFLOW_TERMINATED and isinstance(reason, str) and reason:
        parts.append(reason_label(reason).lower() if parts else reason_label(reason))
    detail = payload.get("error") or payload.get("message")
    if detail:
        parts.append(str(detail))
    text = f"{parts[0]}: {'; '.join(parts[1:])}" if len(parts) > 1 else "".join(parts)
    return text if len(text) <= 300 else text[:299] + "…"


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, kind_title(kind)) for kind in NotificationKind.values]
