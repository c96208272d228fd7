"""The one module that makes outbound HTTP requests for jobs (heartbeat checks, webhooks) and alerts.

Targets are users' URLs, so a request must not become a way into the platform's own network
(server-side request forgery): unless the operator allows private targets, every address the host
name resolves to must be public, and the connection is made to the very address that was checked
(no second lookup that a DNS answer could change in between). Redirects are never followed.
Connection failures are reported without the operating system's detail, so that error texts do
not tell an open port from a closed one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import certifi
import requests
import urllib3
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError, SSLError
from urllib3.exceptions import HTTPError as Urllib3Error

USER_AGENT = "Chronoverse/1.0 (+https://github.com/chronoverse)"
# Webhooks of jobs and alert webhooks are signed alike, so a receiver checks both the same way.
SIGNATURE_HEADER = "X-Chronoverse-Signature"
EXCERPT_BYTES = 2048
# The well-known NAT64 prefix: its last 32 bits are an IPv4 address, reached through a translator.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class HttpResult:
    status: int
    elapsed_ms: float
    body_excerpt: str
    retry_after: float | None


class BlockedAddress(Exception):
    """The target is, or resolves to, an address the platform keeps jobs away from."""


def sign(secret: str, body: bytes) -> str:
    """The value of SIGNATURE_HEADER: `sha256=<hex HMAC-SHA256 of the raw body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Routable on the internet: not loopback, private, link-local, unspecified, reserved, multicast,
    nor an IPv4 address in IPv6 clothing that is one of those."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return ip.is_global and not ip.is_multicast


def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise requests.ConnectionError(f"could not resolve {host}") from exc
    # Keep the resolver's order (it prefers what is reachable), without repeats.
    # An AF_INET or AF_INET6 socket address starts with the host string (the stubs also allow an int).
    return list(dict.fromkeys(cast(str, info[4][0]) for info in infos))


def _checked_addresses(host: str, port: int) -> list[str]:
    addresses = _addresses(host, port)
    if not settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%")[0])):
                raise BlockedAddress(f"{host} is not a public address: this platform does not call it")
    return addresses


def _pool(scheme: str, address: str, port: int, host: str, timeout: float) -> urllib3.HTTPConnectionPool:
    common: dict[str, Any] = {
        "port": port,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if scheme == "https":
        # TLS is checked against the name the user gave, though the socket goes to the checked address.
        return urllib3.HTTPSConnectionPool(
            address,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            **common,
        )
    return urllib3.HTTPConnectionPool(address, **common)


def send(method: str, url: str, *, headers: dict[str, str], body: bytes | None, timeout: float) -> HttpResult:
    """One request, no redirects followed. Raises BlockedAddress for a private target (unless
    allowed), requests.Timeout when no answer comes in time, requests.ConnectionError otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme not in ("http", "https") or not host:
        raise requests.ConnectionError("not an http(s) URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rpartition("@")[2]
    sent_headers = {"User-Agent": USER_AGENT, **headers, "Host": host_header}
    started = time.monotonic()
    last_error: Exception | None = None
    for address in _checked_addresses(host, port):
        pool = _pool(parts.scheme, address, port, host, timeout)
        try:
            response = pool.urlopen(
                method,
                path,
                body=body,
                headers=sent_headers,
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
        except ConnectTimeoutError as exc:
            # Refused, unreachable or silent, alike (a NewConnectionError is one too): try the next
            # address the name resolves to, and say no more than "could not connect" in the end.
            last_error = exc
            pool.close()
            continue
        except ReadTimeoutError as exc:
            pool.close()
            raise requests.Timeout(f"no answer from {host} within {timeout:g} s") from exc
        except SSLError as exc:
            pool.close()
            # The certificate's fault is worth telling (it is the target's, not our network's).
            reason = getattr(exc.__context__, "verify_message", "") or "handshake failed"
            raise requests.ConnectionError(f"TLS with {host} failed: {reason}") from exc
        except Urllib3Error as exc:
            pool.close()
            raise requests.ConnectionError(f"the request to {host} failed") from exc
        try:
            excerpt = response.read(EXCERPT_BYTES, decode_content=True).decode("utf-8", errors="replace")
        except (Urllib3Error, OSError) as exc:
            raise requests.ConnectionError(f"reading the answer of {host} failed") from exc
        finally:
            response.release_conn()
            pool.close()
        retry_after = response.headers.get("Retry-After")
        return HttpResult(
            status=response.status,
            elapsed_ms=(time.monotonic() - started) * 1000,
            body_excerpt=excerpt,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    raise requests.ConnectionError(f"could not connect to {host}:{port}") from last_error
