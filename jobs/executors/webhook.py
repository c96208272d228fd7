from __future__ import annotations

import json
import threading

import requests
from django.conf import settings

from chronoverse import outbound_http
from jobs import selectors
from jobs.logs import LogWriter
from jobs.models import Job
from jobs.outcome import Outcome
from jobs.services import job_status_data


def _body(body: str | dict | None, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, dict):
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        return json.dumps(body, separators=(",", ":")).encode()
    return body.encode()


def _accepted(status: int, expected: list[int] | None) -> bool:
    return status in expected if expected else 200 <= status < 300


def run(job: Job, payload: dict, log: LogWriter, cancel: threading.Event) -> Outcome:
    """Deliver the request, retrying connection errors, 5xx and 429 with exponential backoff."""
    method, url = payload["method"], payload["url"]
    headers = dict(payload.get("headers", {}))
    body = payload.get("body")
    if body is None and (upstream := selectors.job_upstream(job)) is not None:
        # Started by a dependency: the request says which upstream job ended, and how.
        body = {"upstream_job": job_status_data(upstream)}
    body = _body(body, headers)
    headers.update({"X-Chronoverse-Job-Id": str(job.id), "X-Chronoverse-Workflow-Id": str(job.workflow_id)})
    if payload.get("secret"):
        headers[outbound_http.SIGNATURE_HEADER] = outbound_http.sign(payload["secret"], body or b"")
    attempts = payload["retries"] + 1
    last_error = ""
    for attempt in range(1, attempts + 1):
        headers["X-Chronoverse-Attempt"] = str(attempt)
        wait = settings.WEBHOOK_RETRY_BASE_DELAY * 2 ** (attempt - 1)
        try:
            result = outbound_http.send(method, url, headers=headers, body=body, timeout=payload["timeout"])
        except outbound_http.BlockedAddress as exc:
            log.write("stderr", str(exc))
            return Outcome(False, str(exc))
        except requests.RequestException as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            log.write("stderr", f"attempt {attempt}/{attempts}: {method} {url} failed: {last_error}")
        else:
            log.write(
                "stdout",
                f"attempt {attempt}/{attempts}: {method} {url} -> {result.status} in {result.elapsed_ms:.0f} ms",
            )
            if result.body_excerpt:
                log.write("stdout", f"response: {result.body_excerpt}")
            if _accepted(result.status, payload.get("expected_status_codes")):
                return Outcome(True)
            last_error = f"Unexpected status {result.status}"
            if result.status < 500 and result.status != 429:
                return Outcome(False, last_error)
            if result.retry_after is not None:
                wait = min(result.retry_after, 60.0)
        if attempt < attempts:
            log.write("stdout", f"retrying in {wait:.2f} s")
            if cancel.wait(wait):
                return Outcome(False, "Canceled")
    return Outcome(False, f"Gave up after {attempts} attempt(s): {last_error}")
