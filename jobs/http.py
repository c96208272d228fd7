"""The one module that makes outbound HTTP requests for jobs (heartbeat checks, webhooks)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

USER_AGENT = "Chronoverse/1.0 (+https://github.com/chronoverse)"
_session = requests.Session()


@dataclass(frozen=True)
class HttpResult:
    status: int
    elapsed_ms: float
    body_excerpt: str
    retry_after: float | None


def send(method: str, url: str, *, headers: dict[str, str], body: bytes | None, timeout: float) -> HttpResult:
    """One request; raises requests.RequestException when no response arrives."""
    started = time.monotonic()
    response = _session.request(
        method,
        url,
        headers={"User-Agent": USER_AGENT, **headers},
        data=body,
        timeout=timeout,
        allow_redirects=False,
        stream=True,
    )
    try:
        excerpt = response.raw.read(2048, decode_content=True).decode("utf-8", errors="replace")
    finally:
        response.close()
    retry_after = response.headers.get("Retry-After")
    return HttpResult(
        status=response.status_code,
        elapsed_ms=(time.monotonic() - started) * 1000,
        body_excerpt=excerpt,
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )
