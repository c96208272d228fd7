from __future__ import annotations

import threading

import requests

from chronoverse import outbound_http
from jobs.logs import LogWriter
from jobs.models import Job
from jobs.outcome import Outcome


def run(job: Job, payload: dict, log: LogWriter, cancel: threading.Event) -> Outcome:
    """A liveness tick, or an HTTP check of `endpoint` expecting `expected_status_code`."""
    endpoint = payload.get("endpoint")
    if not endpoint:
        log.write("stdout", "heartbeat")
        return Outcome(True)
    method, expected = payload["method"], payload["expected_status_code"]
    try:
        result = outbound_http.send(
            method, endpoint, headers=payload.get("headers", {}), body=None, timeout=payload["timeout"]
        )
    except outbound_http.BlockedAddress as exc:
        log.write("stderr", str(exc))
        return Outcome(False, str(exc))
    except requests.Timeout:
        log.write("stderr", f"{method} {endpoint}: no answer within {payload['timeout']} s")
        return Outcome(False, f"Timed out after {payload['timeout']} s")
    except requests.RequestException as exc:
        log.write("stderr", f"{method} {endpoint}: {exc}")
        return Outcome(False, f"Request failed: {exc}")
    log.write("stdout", f"{method} {endpoint} -> {result.status} in {result.elapsed_ms:.0f} ms")
    if result.status != expected:
        return Outcome(False, f"Expected status {expected}, got {result.status}")
    return Outcome(True)
