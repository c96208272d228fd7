"""Prometheus metrics of this process, exposed at /metrics."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("chronoverse_http_requests_total", "HTTP requests served", ["method", "route", "status"])
HTTP_REQUEST_SECONDS = Histogram(
    "chronoverse_http_request_duration_seconds", "Time to serve an HTTP request", ["method", "route"]
)
