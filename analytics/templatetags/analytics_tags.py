"""The analytics panel of a workflow's page, and the formatting of figures."""

from __future__ import annotations

from typing import Any

from django import template

from analytics import selectors
from analytics.charts import charts_context
from workflows.models import Workflow

register = template.Library()

PANEL_RANGE = "7d"


@register.inclusion_tag("analytics/_panel.html")
def workflow_analytics_panel(workflow: Workflow) -> dict[str, Any]:
    # The workflow page is the jobs app's view; a tag lets its template show analytics without
    # that view (a layer below analytics) knowing about them.
    window = selectors.RANGES[PANEL_RANGE]
    figures = selectors.workflow_analytics(workflow=workflow, window=window)
    histogram = selectors.duration_histogram(user=workflow.user, workflow=workflow)
    return {**charts_context(figures, histogram, window.unit), "workflow": workflow, "window": window}


@register.filter
def seconds(value: float | None) -> str:
    """A duration as a person reads it: `0.05 s`, `3.2 s`, `2 min 5 s`, `1 h 2 min`."""
    if value is None:
        return "—"
    if 0 < value < 0.01:
        return "< 0.01 s"
    if value < 10:
        return f"{value:.2g} s" if value < 1 else f"{value:.1f} s"
    if value < 60:
        return f"{value:.0f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:,} h {minutes} min" if minutes else f"{hours:,} h"


@register.filter
def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


@register.filter
def thousands(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
