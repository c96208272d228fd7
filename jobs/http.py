"""The one module that makes outbound HTTP requests for jobs (heartbeat checks, webhooks)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings

USER_AGENT = "Chronoverse/1.0 (+https://github.com/chronoverse)"
_session = requests.Session()


@dataclass(frozen=True)
class HttpResult:
    status: int
    elapsed_ms: float
    body_excerpt: str
    retry_after: float | None


class BlockedAddress(Exception):
    """The target resolves to an address the operator keeps jobs away from."""


def _check_target(url: str) -> None:
    if not settings.OUTBOUND_BLOCK_PRIVATE_ADDRESSES:
        return
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return  # requests reports the unknown host itself
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise BlockedAddress(f"{host} resolves to {ip}, a private address this platform does not call")


def send(method: str, url: str, *, headers: dict[str, str], body: bytes | None, timeout: float) -> HttpResult:
    """One request; raises requests.RequestException when no response arrives, BlockedAddress when
    the target is private and OUTBOUND_BLOCK_PRIVATE_ADDRESSES is on."""
    _check_target(url)
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
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # Reading the raw stream bypasses requests' own wrapping: give callers its exception types.
        raise requests.ConnectionError(f"reading the response failed: {exc}") from exc
    finally:
        response.close()
    retry_after = response.headers.get("Retry-After")
    return HttpResult(
        status=response.status_code,
        elapsed_ms=(time.monotonic() - started) * 1000,
        body_excerpt=excerpt,
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )
