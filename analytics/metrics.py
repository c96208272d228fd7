"""The platform's state on /metrics, read from the database at scrape time (analytics.selectors),
so that every web process gives the same figures. Registered by AnalyticsConfig.ready: the
/metrics view (chronoverse.ops) serves the default registry and knows nothing of jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from analytics.selectors import platform_state

logger = logging.getLogger(__name__)


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "chronoverse_jobs",
            "Jobs per status (finished ones include the jobs of deleted workflows)",
            labels=["status"],
        ),
        GaugeMetricFamily("chronoverse_workflows", "Workflows per state", labels=["state"]),
        GaugeMetricFamily(
            "chronoverse_scheduler_lag_seconds", "Now minus the oldest next_run_at that is due and not yet claimed"
        ),
        GaugeMetricFamily("chronoverse_oldest_queued_job_age_seconds", "Age of the oldest job waiting for a worker"),
    )


class PlatformCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registration asks for the names: given here, it needs no database.
        yield from _families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            state = platform_state()
        except Exception:
            # A scrape still gets the process's own figures; the missing gauges are the alert.
            logger.exception("could not read the platform's state for /metrics")
            return
        jobs, workflows, lag, oldest = _families()
        for status, count in state.jobs_by_status.items():
            jobs.add_metric([status], count)
        for name, count in state.workflows_by_state.items():
            workflows.add_metric([name], count)
        lag.add_metric([], state.scheduler_lag_seconds)
        oldest.add_metric([], state.oldest_queued_job_age_seconds)
        yield from (jobs, workflows, lag, oldest)


_collector: PlatformCollector | None = None


def register() -> None:
    """Add the collector to the default registry once per process."""
    global _collector
    if _collector is None:
        _collector = PlatformCollector()
        REGISTRY.register(_collector)
